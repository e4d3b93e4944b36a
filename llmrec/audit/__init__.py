"""Audit: a durable record of every recommendation, and checks that its justifications are true."""
