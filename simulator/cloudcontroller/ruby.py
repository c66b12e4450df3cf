"""Ruby's `inspect` of JSON-parsed values, as Ruby 2.x prints them (`{"instances"=>2}`).

Why: Cloud Controller (a Ruby app) interpolates the request hash into the app log line it
emits on every update (`"Updated app with guid G (#{app_audit_hash(request_attrs)})"`,
cloud_controller_ng@64d935a:app/repositories/runtime/app_event_repository.rb:23), so what a
user reads in `cf logs` is Ruby's `Hash#inspect`, not JSON and not Python's `repr`. Only the
types a JSON body can hold are handled: Hash, Array, String, Integer, Float, true/false/nil.
"""

from __future__ import annotations

from typing import Any

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f",
            "\v": "\\v", "\b": "\\b", "\a": "\\a", "\x1b": "\\e"}


def inspect_string(text: str) -> str:
    """`String#inspect` of a UTF-8 string (rb_str_inspect): `"` and `\\` escaped, the named
    control characters as `\\n` etc., `#` escaped before `{`, `$` or `@` (it would start an
    interpolation), other unprintable characters as `\\uXXXX` (`\\u{X...}` beyond the BMP)."""
    out = ['"']
    for i, ch in enumerate(text):
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch == "#" and text[i + 1:i + 2] in ("{", "$", "@"):
            out.append("\\#")
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) > 0xFFFF:
            out.append(f"\\u{{{ord(ch):X}}}")
        else:
            out.append(f"\\u{ord(ch):04X}")
    out.append('"')
    return "".join(out)


def inspect_float(value: float) -> str:
    """`Float#inspect`: like Python's repr, but an exponent form always has a fraction
    (`1.0e+20`, `1.0e-05`) and infinities/NaN are spelled Ruby's way."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    text = repr(value)
    if "e" in text:
        mantissa, _, exponent = text.partition("e")
        if "." not in mantissa:
            mantissa += ".0"
        return f"{mantissa}e{exponent}"
    return text


def inspect(value: Any) -> str:
    """Ruby 2.x `inspect` of a JSON-parsed value."""
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return inspect_float(value)
    if isinstance(value, str):
        return inspect_string(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{inspect(k)}=>{inspect(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(inspect(v) for v in value) + "]"
    raise TypeError(f"no Ruby inspect for {type(value).__name__}")
