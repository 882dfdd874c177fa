"""Operators and queues over AMI: adapter, live model, queue statistics, callbacks."""
