"""Tests of ftkit.redaction: secrets in URLs, headers, token shapes and secret-named variables are masked."""


def test_redaction_masks_passwords_and_tokens(monkeypatch):
    from ftkit.redaction import redact

    monkeypatch.setenv("MY_API_TOKEN", "s3cr3t-value-123")
    assert redact("http://user:secret@host:5000/path") == "http://user:***@host:5000/path"
    assert redact("https://h/x?token=abc&run=1") == "https://h/x?token=***&run=1"
    assert redact("Authorization: Bearer abcdefghijklmnop") == "Authorization: Bearer ***"
    assert redact("login with hf_abcdefghijklmnopqrstuvwxyz") == "login with ***"
    assert redact({"uri": ["failed: s3cr3t-value-123"]}) == {"uri": ["failed: ***"]}
    assert (redact("max_new_tokens=5, file:///tmp/mlruns, 512 token rows")
            == "max_new_tokens=5, file:///tmp/mlruns, 512 token rows")
