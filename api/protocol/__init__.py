"""Wire formats of the compatible APIs (OpenAI, Ollama): pydantic models and pure conversions, no HTTP."""
