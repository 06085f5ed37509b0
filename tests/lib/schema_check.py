#!/usr/bin/env python3
"""schema_check.py -- check JSON documents against the event schemas.

A validator for the subset of JSON Schema (2020-12) the event schemas use:
type, properties, required, additionalProperties (boolean), items,
minItems, enum, const, pattern, minLength, maxLength, minimum, maximum,
exclusiveMinimum; the annotations $schema, $id, title, description are
ignored. Any other keyword is an error, so a schema cannot silently use
more than is checked here.

usage: schema_check.py SCHEMA_DIR... -- DUMP.jsonl...
  SCHEMA_DIR: directories of <subject>.json schemas (plugins/*/schemas)
  DUMP: tests/tools/stream_dump output (one {"subject", "data", ...} a line)
Every message whose subject has a schema is checked; a subject without one
is an error. Prints counts per subject as JSON; exit 1 on any violation.
"""
import json
import os
import re
import sys

ANNOTATIONS = {"$schema", "$id", "title", "description"}
KNOWN = ANNOTATIONS | {"type", "properties", "required", "additionalProperties", "items",
                       "minItems", "enum", "const", "pattern", "minLength", "maxLength",
                       "minimum", "maximum", "exclusiveMinimum"}
TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or
    (isinstance(v, float) and v.is_integer()),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def validate(schema, v, path="$"):
    """Yield 'path: problem' for every violation."""
    unknown = set(schema) - KNOWN
    if unknown:
        yield "%s: schema uses unsupported keywords %s" % (path, sorted(unknown))
        return
    t = schema.get("type")
    if t is not None:
        types = t if isinstance(t, list) else [t]
        if not any(TYPES[x](v) for x in types):
            yield "%s: %r is not of type %s" % (path, v, t)
            return
    if "const" in schema and v != schema["const"]:
        yield "%s: %r is not %r" % (path, v, schema["const"])
    if "enum" in schema and v not in schema["enum"]:
        yield "%s: %r is not one of %s" % (path, v, schema["enum"])
    if isinstance(v, str):
        if "pattern" in schema and not re.search(schema["pattern"], v):
            yield "%s: %r does not match %s" % (path, v, schema["pattern"])
        if len(v) < schema.get("minLength", 0):
            yield "%s: shorter than %d" % (path, schema["minLength"])
        if "maxLength" in schema and len(v) > schema["maxLength"]:
            yield "%s: longer than %d" % (path, schema["maxLength"])
    if TYPES["number"](v):
        if "minimum" in schema and v < schema["minimum"]:
            yield "%s: %r < minimum %r" % (path, v, schema["minimum"])
        if "maximum" in schema and v > schema["maximum"]:
            yield "%s: %r > maximum %r" % (path, v, schema["maximum"])
        if "exclusiveMinimum" in schema and v <= schema["exclusiveMinimum"]:
            yield "%s: %r <= exclusiveMinimum %r" % (path, v, schema["exclusiveMinimum"])
    if isinstance(v, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            if k not in v:
                yield "%s: required member %r missing" % (path, k)
        if schema.get("additionalProperties", True) is False:
            for k in v:
                if k not in props:
                    yield "%s: member %r is not in the schema" % (path, k)
        for k, sub in props.items():
            if k in v:
                yield from validate(sub, v[k], "%s.%s" % (path, k))
    if isinstance(v, list):
        if len(v) < schema.get("minItems", 0):
            yield "%s: fewer than %d items" % (path, schema["minItems"])
        if "items" in schema:
            for i, x in enumerate(v):
                yield from validate(schema["items"], x, "%s[%d]" % (path, i))


def main(argv):
    if "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    sep = argv.index("--")
    schemas = {}
    for d in argv[1:sep]:
        for fn in sorted(os.listdir(d)):
            if fn.endswith(".json"):
                with open(os.path.join(d, fn)) as f:
                    s = json.load(f)
                subject = fn[:-len(".json")]
                if s.get("title") != subject:
                    print("%s/%s: title is not the subject" % (d, fn), file=sys.stderr)
                    return 1
                schemas[subject] = s
    counts, bad = {}, []
    for path in argv[sep + 1:]:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                m = json.loads(line)
                subject = m["subject"]
                if subject.startswith("dlq."):
                    continue  # letters carry the original payload, checked at its subject
                if subject not in schemas:
                    bad.append("%s:%d: no schema for subject %s" % (path, n, subject))
                    continue
                counts[subject] = counts.get(subject, 0) + 1
                try:
                    doc = json.loads(m["data"])
                except ValueError as e:
                    bad.append("%s:%d: %s: not JSON: %s" % (path, n, subject, e))
                    continue
                for p in validate(schemas[subject], doc):
                    bad.append("%s:%d: %s: %s" % (path, n, subject, p))
                mid = (m.get("headers", {}).get("Nats-Msg-Id") or [None])[0]
                if mid is not None and doc.get("message_id") != mid:
                    bad.append("%s:%d: %s: message_id %r is not the Nats-Msg-Id %r"
                               % (path, n, subject, doc.get("message_id"), mid))
    print(json.dumps(counts, sort_keys=True))
    for b in bad[:20]:
        print(b, file=sys.stderr)
    if bad:
        print("%d violation(s)" % len(bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
