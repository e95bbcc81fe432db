"""Terminal renderers: read a trace, return rich renderables, never print."""
