"""Switchboard: a self-hosted task routing engine compatible with Twilio TaskRouter."""

__version__ = "0.1.0"
