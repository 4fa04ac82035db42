"""Secrets kept out of everything the kit prints, logs, tracks or writes: one function, `redact`.

A tracking URI such as `http://user:secret@host` or `https://host/?token=...`, a Hugging Face token in an error
message, or the value of an environment variable such as `HF_TOKEN` must never reach a terminal, a log, an MLflow
parameter or a run folder. `redact` replaces the secret part with `***` and keeps the rest readable (scheme, user,
host, path), so a message still says where things went wrong.
"""

import os
import re

MASK = "***"

# scheme://user:password@host -> scheme://user:***@host (the user name stays: it says which account)
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):(?P<secret>[^/\s@]+)@")
# ?token=... &api_key=... (query strings, also key=value in messages)
_SECRET_PARAMETER = re.compile(
    r"(?P<head>\b(?:access_token|auth_token|token|api_key|apikey|api-key|key|password|passwd|secret|sig|signature|"
    r"client_secret|x-amz-signature|x-amz-credential|x-amz-security-token)=)(?P<secret>[^&\s'\"#]+)", re.IGNORECASE)
# Authorization headers
_BEARER = re.compile(r"(?P<head>\b(?:Bearer|Basic)\s+)(?P<secret>[A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE)
# Tokens recognisable by their shape: Hugging Face, OpenAI-style, GitHub, Slack, AWS access key ids
_TOKEN_SHAPES = re.compile(
    r"\b(?:hf_[A-Za-z0-9]{16,}|sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|"
    r"xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16})\b")
# Environment variables whose values are secrets wherever they turn up
_SECRET_VARIABLE = re.compile(r"(TOKEN|PASSWORD|PASSWD|SECRET|API_KEY|ACCESS_KEY|CREDENTIAL)", re.IGNORECASE)


def secret_environment_values() -> list[str]:
    """Values of environment variables named like secrets (HF_TOKEN, MLFLOW_TRACKING_PASSWORD, ...), longest first."""
    values = {value for name, value in os.environ.items() if _SECRET_VARIABLE.search(name) and len(value) >= 6}
    return sorted(values, key=len, reverse=True)


def redact_text(text: str) -> str:
    for value in secret_environment_values():
        text = text.replace(value, MASK)
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}:{MASK}@", text)
    text = _SECRET_PARAMETER.sub(lambda m: f"{m['head']}{MASK}", text)
    text = _BEARER.sub(lambda m: f"{m['head']}{MASK}", text)
    return _TOKEN_SHAPES.sub(MASK, text)


def redact(value):
    """`value` with every secret replaced by ***: strings, and the strings inside dicts, lists and tuples."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(item) for item in value)
    return value
