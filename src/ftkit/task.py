"""The bundled default task: persons and their addresses from Japanese news text, as JSON.

The system prompt is shared by the data generator, the training and inference scripts and the
evaluation, so that a model is always asked the same question it was trained on.
"""

# Kept short on purpose: every training sample carries it, and on a CPU each prompt token costs time.
EXTRACTION_SYSTEM_PROMPT = '人物（実在の個人）の氏名と住所をJSONで抽出: {"persons": [{"name": 氏名, "address": 住所}]}'
