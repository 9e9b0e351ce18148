"""The Python baseline of the benchmark: what a user would write instead of migrator.

Reads a mongodump directory with pymongo's `bson` reader and loads it with psycopg 3 `COPY ...
FROM STDIN` (`copy.write_row`), 10,000 documents per batch, one transaction per collection.
Which table and column every value goes to comes from migrator's mapping (`migrator mapping`),
so the tables are the ones migrator creates: the same DDL, the same ids, the same JSON. Foreign
keys and indexes are added at the end, as migrator does.

    python baseline.py --dump DIR --mapping mapping.json --pg-url postgres://...
"""

import argparse
import base64
import datetime
import decimal
import hashlib
import json
import math
import os
import struct
import sys
import time
import uuid

import bson
import psycopg
from bson.binary import Binary
from bson.code import Code
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.datetime_ms import DatetimeMS
from bson.dbref import DBRef
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.max_key import MaxKey
from bson.min_key import MinKey
from bson.objectid import ObjectId
from bson.regex import Regex
from bson.timestamp import Timestamp

BATCH = 10_000
UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
CODEC = CodecOptions(tz_aware=True, datetime_conversion=DatetimeConversion.DATETIME_AUTO)


# --- ids -----------------------------------------------------------------------------------------


def uuid5(namespace, name):
    """A version 5 UUID of bytes (the standard library's `uuid5` takes text only)."""
    digest = bytearray(hashlib.sha1(namespace.bytes + name).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    return uuid.UUID(bytes=bytes(digest))


def ordered_uuid(oid):
    """ObjectId -> the ordered UUID: 48-bit milliseconds, version 7, the other 8 bytes."""
    b = oid.binary
    millis = int.from_bytes(b[0:4], "big") * 1000
    tail = int.from_bytes(b[4:12], "big")
    hi = (millis << 16) | (0x7 << 12) | (tail >> 52)
    lo = 0x8000_0000_0000_0000 | (tail & 0x000F_FFFF_FFFF_FFFF)
    return uuid.UUID(int=(hi << 64) | lo)


class Ids:
    def __init__(self, conventions):
        self.v5_namespace = uuid.UUID(conventions["v5_namespace"])
        self.child_namespace = uuid.UUID(conventions["child_row_namespace"])

    def key(self, value, strategy):
        """The stored key of an `_id` (or a reference to one) under `strategy`."""
        if isinstance(value, ObjectId):
            if strategy == "ordered":
                return ordered_uuid(value)
            if strategy == "v5":
                return uuid5(self.v5_namespace, value.binary)
            return str(value)
        return value

    def child_row(self, parent, field, position):
        if isinstance(parent, uuid.UUID):
            name = b"u" + parent.bytes
        elif isinstance(parent, str):
            name = b"s" + parent.encode()
        elif isinstance(parent, Int64) or not -(2**31) <= parent < 2**31:
            name = b"l" + struct.pack(">q", parent)
        else:
            name = b"i" + struct.pack(">i", parent)
        name += b"\0" + field.encode() + b"\0" + struct.pack(">i", position)
        return uuid5(self.child_namespace, name)


# --- JSON ----------------------------------------------------------------------------------------


def date_text(dt):
    """RFC 3339 in UTC, fractional seconds only when not zero, trailing zeros trimmed."""
    text = dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        text += "." + ("%06d" % dt.microsecond).rstrip("0")
    return text + "Z"


def millis_of(value):
    if isinstance(value, DatetimeMS):
        return int(value)
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def relaxed(value):
    """A decoded BSON value as relaxed Extended JSON (plain Python JSON values)."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isnan(value):
            return {"$numberDouble": "NaN"}
        if math.isinf(value):
            return {"$numberDouble": "Infinity" if value > 0 else "-Infinity"}
        return value
    if isinstance(value, dict):
        return {k: relaxed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [relaxed(v) for v in value]
    if isinstance(value, ObjectId):
        return {"$oid": str(value)}
    if isinstance(value, (datetime.datetime, DatetimeMS)):
        millis = millis_of(value)
        if isinstance(value, datetime.datetime) and 0 <= millis and value.year <= 9999:
            return {"$date": date_text(value)}
        return {"$date": {"$numberLong": str(millis)}}
    if isinstance(value, Decimal128):
        return {"$numberDecimal": str(value)}
    if isinstance(value, Binary):
        return {"$binary": {"base64": base64.b64encode(value).decode(), "subType": "%02x" % value.subtype}}
    if isinstance(value, bytes):
        return {"$binary": {"base64": base64.b64encode(value).decode(), "subType": "00"}}
    if isinstance(value, uuid.UUID):
        return {"$binary": {"base64": base64.b64encode(value.bytes).decode(), "subType": "04"}}
    if isinstance(value, Regex):
        return {"$regularExpression": {"pattern": value.pattern, "options": "".join(sorted(str(value.flags)))}}
    if isinstance(value, Timestamp):
        return {"$timestamp": {"t": value.time, "i": value.inc}}
    if isinstance(value, Code):
        if value.scope is not None:
            return {"$code": str(value), "$scope": relaxed(value.scope)}
        return {"$code": str(value)}
    if isinstance(value, MinKey):
        return {"$minKey": 1}
    if isinstance(value, MaxKey):
        return {"$maxKey": 1}
    if isinstance(value, DBRef):
        return relaxed(value.as_doc())
    raise TypeError("no Extended JSON for %r" % (value,))


def dumps(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


# --- conversions named in the mapping ------------------------------------------------------------


def parse_text_date(text):
    """`convert::parse_text_date`: RFC 3339, `2018-03-04 10:11:12[.fff]` (UTC) or `2018-03-04`."""
    s = text.strip()
    if len(s) == 10:
        s = s + "T00:00:00Z"
    elif len(s) > 10 and s[10] == " ":
        s = s[:10] + "T" + s[11:] + "Z"
    dt = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    # bson's parser keeps milliseconds only.
    return dt.replace(microsecond=dt.microsecond // 1000 * 1000)


def flexible_date(value):
    if isinstance(value, str):
        return parse_text_date(value)
    return value


def optional_flexible_date(value):
    return None if value is None else flexible_date(value)


CONVERSIONS = {
    "convert::flexible_date": flexible_date,
    "convert::optional_flexible_date": optional_flexible_date,
}


# --- columns -------------------------------------------------------------------------------------

MISSING = object()


def scalar(value, pg_type, ids):
    """A BSON value as the Python value psycopg writes into a column of `pg_type`."""
    if value is None:
        return None
    if pg_type == "numeric":
        if isinstance(value, Decimal128):
            return value.to_decimal()
        if isinstance(value, float):
            return decimal.Decimal(repr(value)).normalize()
        return decimal.Decimal(int(value))
    if pg_type in ("integer", "bigint"):
        return int(value)
    if pg_type == "double precision":
        return float(value)
    if pg_type == "uuid":
        if isinstance(value, ObjectId):
            return ordered_uuid(value)
        if isinstance(value, Binary):
            return uuid.UUID(bytes=bytes(value))
        return value
    if pg_type == "bytea":
        return bytes(value)
    return value


class Column:
    def __init__(self, spec, ids, enums):
        self.name = spec["name"]
        self.kind = spec["kind"]
        self.key = spec.get("key")
        self.nullable = spec["nullable"]
        self.pg_type = spec["type"]
        self.has_default = "default" in spec
        self.default = spec.get("default")
        self.convert = CONVERSIONS[spec["with"]] if "with" in spec else None
        if "with" in spec and spec["with"] not in CONVERSIONS:
            raise SystemExit("unknown conversion %s" % spec["with"])
        self.strategy = (spec.get("target") or {}).get("strategy") or spec.get("strategy")
        self.serde_fields = (spec.get("serde") or {}).get("fields")
        self.element = spec.get("element")
        self.field = spec.get("field")
        self.ids = ids

    def value(self, row_doc, parent_key, position):
        kind = self.kind
        if kind == "parent_key":
            return parent_key
        if kind == "position":
            return position
        if kind == "child_row_id":
            return self.ids.child_row(parent_key, self.field, position)
        raw = row_doc.get(self.key, MISSING) if self.key else row_doc
        if raw is MISSING:
            if self.has_default:
                return self.default
            raw = None
        if self.convert is not None:
            raw = self.convert(raw)
        if raw is None:
            return None
        if kind in ("id", "reference"):
            return self.ids.key(raw, self.strategy)
        if kind == "jsonb":
            if self.serde_fields is not None:
                return dumps({f: relaxed(raw.get(f)) for f in self.serde_fields})
            return dumps(relaxed(raw))
        if kind == "object_id_text":
            return str(raw)
        if kind == "array":
            return [scalar(v, self.element, self.ids) for v in raw]
        if kind == "enum":
            return raw
        return scalar(raw, self.pg_type, self.ids)


class Table:
    def __init__(self, spec, ids, enums, qualified):
        self.name = spec["name"]
        self.role = spec["role"]
        self.parent = spec["parent"]
        self.array_key = spec["array_key"]
        self.columns = [Column(c, ids, enums) for c in spec["columns"]]
        self.children = []
        self.rows = []
        cols = ", ".join('"%s"' % c.name for c in self.columns)
        self.copy_sql = "COPY %s (%s) FROM STDIN" % (qualified(self.name), cols)
        self.key_index = next(i for i, c in enumerate(self.columns) if c.name == spec["primary_key"][0])

    def emit(self, row_doc, parent_key, position):
        """Appends this table's row for `row_doc`, then its junction and child rows."""
        row = tuple(c.value(row_doc, parent_key, position) for c in self.columns)
        self.rows.append(row)
        key = row[self.key_index]
        for child in self.children:
            items = row_doc.get(child.array_key)
            if not items:
                continue
            if child.role == "junction":
                child.emit_junction(items, key)
            else:
                for i, item in enumerate(items):
                    child.emit(item, key, i)

    def emit_junction(self, items, owner):
        seen = set()
        target = self.columns[1]
        with_position = len(self.columns) > 2
        for i, item in enumerate(items):
            value = target.value(item, owner, i)
            if value in seen:
                continue
            seen.add(value)
            self.rows.append((owner, value, i) if with_position else (owner, value))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dump", required=True)
    parser.add_argument("--mapping", required=True)
    parser.add_argument("--pg-url", required=True)
    parser.add_argument("--schema", default="public")
    args = parser.parse_args()
    with open(args.mapping) as f:
        mapping = json.load(f)
    ids = Ids(mapping["conventions"])

    def qualified(name):
        return '"%s"."%s"' % (args.schema, name)

    started = time.monotonic()
    documents = rows = 0
    with psycopg.connect(args.pg_url, autocommit=False) as conn:
        with conn.cursor() as cur:
            for stmt in mapping["ddl"]["types"] + mapping["ddl"]["tables"]:
                cur.execute(stmt)
        conn.commit()
        for coll in mapping["collections"]:
            tables = [Table(t, ids, mapping["enums"], qualified) for t in coll["tables"]]
            by_name = {t.name: t for t in tables}
            for t in tables[1:]:
                by_name[t.parent].children.append(t)
            path = os.path.join(args.dump, coll["collection"] + ".bson")
            with open(path, "rb") as f, conn.cursor() as cur:
                batch = 0
                for doc in bson.decode_file_iter(f, CODEC):
                    tables[0].emit(doc, None, None)
                    documents += 1
                    batch += 1
                    if batch == BATCH:
                        rows += flush(cur, tables)
                        batch = 0
                rows += flush(cur, tables)
            conn.commit()
        loaded = time.monotonic()
        with conn.cursor() as cur:
            for stmt in mapping["ddl"]["foreign_keys"] + mapping["ddl"]["indexes"]:
                cur.execute(stmt)
        conn.commit()
    done = time.monotonic()
    print(json.dumps({
        "documents": documents,
        "rows": rows,
        "load_seconds": round(loaded - started, 3),
        "constraints_seconds": round(done - loaded, 3),
    }))


def flush(cur, tables):
    n = 0
    for t in tables:
        if not t.rows:
            continue
        with cur.copy(t.copy_sql) as copy:
            for row in t.rows:
                copy.write_row(row)
        n += len(t.rows)
        t.rows.clear()
    return n


if __name__ == "__main__":
    sys.exit(main())
