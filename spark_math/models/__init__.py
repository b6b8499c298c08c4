"""Model backends for lm-eval: Gemini through google-genai, and replay of saved generations."""
