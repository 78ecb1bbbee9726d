"""Benchmarks behind the ``evodesign bench ...`` commands: each returns a JSON-ready dict."""
