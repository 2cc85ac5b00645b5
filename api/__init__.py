"""Pictor's local HTTP API: a third front beside cli/ and desktop/, over core's Library.

``python main.py serve`` answers JSON on the loopback address (api.server); the running
instance is found through ``<data folder>/api.json`` (api.discovery, which imports
neither FastAPI nor uvicorn, so a command line can check it cheaply).
"""
