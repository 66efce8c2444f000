"""Serving the levels to applications: an OpenAI-compatible chat endpoint.

`model: "<scenario>/<level>"` names what answers (`models`); a chat request becomes one
comparison of that one level, run and stored by the comparison service and marked as served
(`calls`); `requests` is the body it accepts and `responses` the chat completion and its
streamed chunks in OpenAI's shapes. The routes are in `app/api/serving.py`.
"""
