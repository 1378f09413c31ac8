"""Configuration as tensorflow_model_server takes it: flags, option dataclasses and the text
protos of its config files. Read once at startup; a mistake is a ``ConfigError`` (exit code 2).
"""
