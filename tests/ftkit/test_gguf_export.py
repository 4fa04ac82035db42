"""Tests of ftkit.gguf_export: an unknown model is one clear line; the Go-template renderer matches Go's own."""

import json
import shutil
import subprocess

import pytest
from conftest import SYSTEM, build_tiny_model, build_tokenizer

from ftkit.errors import KitError
from ftkit.gguf_export import ollama_messages, ollama_prompt, sample_conversations


def test_unsupported_models_get_one_clear_line(tmp_path):
    from ftkit.gguf_export import write_gguf

    tokenizer = build_tokenizer()
    moe = build_tiny_model("qwen3_moe", tokenizer, num_hidden_layers=1, num_experts=2, num_experts_per_tok=1)
    with pytest.raises(KitError, match="GGUF export of Qwen3MoeForCausalLM is not supported yet"):
        write_gguf(moe, tokenizer, tmp_path / "q.gguf")
    # llama.cpp's Qwen3 reads no sliding window: a model with one is refused, not written as another model
    sliding = build_tiny_model("qwen3", tokenizer, num_hidden_layers=1, use_sliding_window=True, sliding_window=16,
                               max_window_layers=0)
    with pytest.raises(KitError, match="sliding-window layers is not supported yet"):
        write_gguf(sliding, tokenizer, tmp_path / "s.gguf")
    # the conftest Gemma 3 scales attention by 1/sqrt(256) with 32-wide heads: llama.cpp would compute another model
    with pytest.raises(KitError, match="query_pre_attn_scalar is 256"):
        write_gguf(build_tiny_model("gemma3", tokenizer), tokenizer, tmp_path / "g.gguf")
    assert list(tmp_path.iterdir()) == []


GO_RENDERER = r'''
package main

import (
	"encoding/json"
	"os"
	"strings"
	"text/template"
)

type Message struct{ Role, Content string }

func main() {
	var cases []struct {
		Template, System string
		Messages         []*Message
	}
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	out := []string{}
	for _, c := range cases {
		var b strings.Builder
		t := template.Must(template.New("").Parse(c.Template))
		if err := t.Execute(&b, map[string]any{"System": c.System, "Messages": c.Messages, "Response": ""}); err != nil {
			panic(err)
		}
		out = append(out, b.String())
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
'''


@pytest.mark.skipif(shutil.which("go") is None, reason="Go is not installed (optional: apt-get install golang-go)")
def test_go_text_template_renders_the_templates_as_the_kits_renderer_does(tmp_path):
    """The kit's renderer against Go's own text/template, which Ollama runs, on every emitted TEMPLATE."""
    from ftkit.gguf_export import OLLAMA_TEMPLATES

    cases, expected = [], []
    for template, _ in OLLAMA_TEMPLATES.values():
        for bos in ("", "<bos>"):
            for system in (None, SYSTEM):
                for conversation in sample_conversations(system) + [[{"role": "user", "content": "a"},
                                                                     {"role": "assistant", "content": "b"}]]:
                    joined, messages = ollama_messages(conversation, system)
                    cases.append({"Template": bos + template, "System": joined, "Messages": messages})
                    expected.append(ollama_prompt(bos + template, conversation, system))
    (tmp_path / "main.go").write_text(GO_RENDERER)
    result = subprocess.run(["go", "run", "main.go"], cwd=tmp_path, input=json.dumps(cases), capture_output=True,
                            text=True, timeout=300, env={**__import__("os").environ, "GO111MODULE": "off"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == expected
