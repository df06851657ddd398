"""Talking to the AICC servers: requests and answers, auth, retrying, pacing and sending many calls at once."""
