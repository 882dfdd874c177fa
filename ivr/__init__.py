"""The IVR: FastAGI server and session protocol, call flows, the menu file and its prompts."""
