// The Node baseline of the benchmark: what a user would write instead of migrator.
//
// Reads a mongodump directory with the `bson` package and loads it with `pg`, as multi-row
// INSERT statements of 1,000 rows (what Prisma's `createMany` sends), one transaction per
// collection. Which table and column every value goes to comes from migrator's mapping
// (`migrator mapping`), so the tables are the ones migrator creates: the same DDL, the same ids,
// the same JSON. Foreign keys and indexes are added at the end, as migrator does.
//
//     node baseline.js --dump DIR --mapping mapping.json --pg-url postgres://...

'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { BSON } = require('bson');
const { Client } = require('pg');

const ROWS_PER_INSERT = 1000;
const DESERIALIZE = { promoteValues: false, promoteBuffers: false, bsonRegExp: true };

// --- ids ----------------------------------------------------------------------------------------

function uuidText(bytes) {
  const h = Buffer.from(bytes).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function uuidBytes(text) {
  return Buffer.from(text.replace(/-/g, ''), 'hex');
}

function uuid5(namespace, name) {
  const digest = crypto.createHash('sha1').update(namespace).update(name).digest().subarray(0, 16);
  digest[6] = (digest[6] & 0x0f) | 0x50;
  digest[8] = (digest[8] & 0x3f) | 0x80;
  return uuidText(digest);
}

// ObjectId -> the ordered UUID: 48-bit milliseconds, version 7, the ObjectId's other 8 bytes.
function orderedUuid(oid) {
  const b = oid.id;
  const out = Buffer.alloc(16);
  const millis = b.readUInt32BE ? b.readUInt32BE(0) * 1000 : Buffer.from(b).readUInt32BE(0) * 1000;
  out.writeUIntBE(millis, 0, 6);
  out[6] = 0x70 | (b[4] >> 4);
  out[7] = ((b[4] & 0x0f) << 4) | (b[5] >> 4);
  out[8] = 0x80;
  out[9] = b[5] & 0x0f;
  for (let i = 6; i < 12; i++) out[i + 4] = b[i];
  return uuidText(out);
}

class Ids {
  constructor(conventions) {
    this.v5Namespace = uuidBytes(conventions.v5_namespace);
    this.childNamespace = uuidBytes(conventions.child_row_namespace);
  }

  key(value, strategy) {
    if (value && value._bsontype === 'ObjectId') {
      if (strategy === 'ordered') return orderedUuid(value);
      if (strategy === 'v5') return uuid5(this.v5Namespace, Buffer.from(value.id));
      return value.toHexString();
    }
    return scalarOf(value);
  }

  childRow(parent, field, position) {
    let head;
    if (typeof parent === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-/.test(parent)) {
      head = Buffer.concat([Buffer.from('u'), uuidBytes(parent)]);
    } else if (typeof parent === 'string') {
      head = Buffer.concat([Buffer.from('s'), Buffer.from(parent, 'utf8')]);
    } else {
      const n = Buffer.alloc(4);
      n.writeInt32BE(Number(parent));
      head = Buffer.concat([Buffer.from('i'), n]);
    }
    const pos = Buffer.alloc(4);
    pos.writeInt32BE(position);
    const name = Buffer.concat([head, Buffer.from([0]), Buffer.from(field, 'utf8'), Buffer.from([0]), pos]);
    return uuid5(this.childNamespace, name);
  }
}

// --- JSON ---------------------------------------------------------------------------------------

function dateText(date) {
  const iso = date.toISOString(); // 2020-01-02T03:04:05.600Z
  const ms = date.getUTCMilliseconds();
  if (ms === 0) return iso.slice(0, 19) + 'Z';
  return iso.slice(0, 19) + '.' + String(ms).padStart(3, '0').replace(/0+$/, '') + 'Z';
}

// A double as serde_json writes it: shortest round-trip digits, `2.0` for integral values.
function doubleText(x) {
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return (Object.is(x, -0) ? '-0' : String(x)) + '.0';
  return String(x);
}

// A decoded BSON value as relaxed Extended JSON text.
function relaxed(v) {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      return doubleText(v);
    case 'bigint':
      return v.toString();
    default:
      break;
  }
  if (v instanceof Date) {
    const ms = v.getTime();
    if (ms >= 0 && v.getUTCFullYear() <= 9999) return `{"$date":"${dateText(v)}"}`;
    return `{"$date":{"$numberLong":"${ms}"}}`;
  }
  if (Array.isArray(v)) return '[' + v.map(relaxed).join(',') + ']';
  switch (v._bsontype) {
    case 'Int32':
      return String(v.value);
    case 'Long':
      return v.toString();
    case 'Double': {
      const x = v.value;
      if (Number.isNaN(x)) return '{"$numberDouble":"NaN"}';
      if (!Number.isFinite(x)) return `{"$numberDouble":"${x > 0 ? 'Infinity' : '-Infinity'}"}`;
      return doubleText(x);
    }
    case 'ObjectId':
      return `{"$oid":"${v.toHexString()}"}`;
    case 'Decimal128':
      return `{"$numberDecimal":"${v.toString()}"}`;
    case 'Binary':
      return `{"$binary":{"base64":"${Buffer.from(v.buffer).toString('base64')}","subType":"${v.sub_type.toString(16).padStart(2, '0')}"}}`;
    case 'BSONRegExp':
      return `{"$regularExpression":{"pattern":${JSON.stringify(v.pattern)},"options":"${[...v.options].sort().join('')}"}}`;
    case 'Timestamp':
      return `{"$timestamp":{"t":${v.high >>> 0},"i":${v.low >>> 0}}}`;
    case 'MinKey':
      return '{"$minKey":1}';
    case 'MaxKey':
      return '{"$maxKey":1}';
    case 'Code':
      return v.scope ? `{"$code":${JSON.stringify(v.code)},"$scope":${relaxed(v.scope)}}` : `{"$code":${JSON.stringify(v.code)}}`;
    default:
      break;
  }
  const parts = [];
  for (const key of Object.keys(v)) parts.push(JSON.stringify(key) + ':' + relaxed(v[key]));
  return '{' + parts.join(',') + '}';
}

// --- conversions named in the mapping -----------------------------------------------------------

// `convert::parse_text_date`: RFC 3339, `2018-03-04 10:11:12[.fff]` (UTC) or `2018-03-04`.
function parseTextDate(text) {
  let s = text.trim();
  if (s.length === 10) s += 'T00:00:00Z';
  else if (s[10] === ' ') s = s.slice(0, 10) + 'T' + s.slice(11) + 'Z';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) throw new Error(`\`${text}\` is not a date`);
  return d;
}

const CONVERSIONS = {
  'convert::flexible_date': (v) => (typeof v === 'string' ? parseTextDate(v) : v),
  'convert::optional_flexible_date': (v) => (v === null || v === undefined ? null : typeof v === 'string' ? parseTextDate(v) : v),
};

// --- columns ------------------------------------------------------------------------------------

// A BSON value as a JS value `pg` sends as text (numbers, strings, Buffers, arrays).
function scalarOf(v) {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  switch (v._bsontype) {
    case 'Int32':
    case 'Double':
      return v.value;
    case 'Long':
    case 'Decimal128':
      return v.toString();
    case 'ObjectId':
      return orderedUuid(v);
    case 'Binary':
      return v.sub_type === 4 ? uuidText(v.buffer) : Buffer.from(v.buffer);
    default:
      return v;
  }
}

function numericOf(v) {
  if (v && v._bsontype === 'Double') {
    // The shortest digits, like Rust's `{:e}` read back as a decimal128 (`2.0` is `2`).
    return Number(v.value).toExponential().replace('e+', 'e');
  }
  return scalarOf(v);
}

class Column {
  constructor(spec, ids) {
    this.name = spec.name;
    this.kind = spec.kind;
    this.key = spec.key;
    this.type = spec.type;
    this.hasDefault = Object.prototype.hasOwnProperty.call(spec, 'default');
    this.default = spec.default;
    if (spec.with !== undefined && !CONVERSIONS[spec.with]) throw new Error(`unknown conversion ${spec.with}`);
    this.convert = spec.with !== undefined ? CONVERSIONS[spec.with] : null;
    this.strategy = (spec.target && spec.target.strategy) || spec.strategy || null;
    this.serdeFields = spec.serde ? spec.serde.fields : null;
    this.field = spec.field;
    this.ids = ids;
  }

  value(rowDoc, parentKey, position) {
    switch (this.kind) {
      case 'parent_key':
        return parentKey;
      case 'position':
        return position;
      case 'child_row_id':
        return this.ids.childRow(parentKey, this.field, position);
      default:
        break;
    }
    let raw = this.key ? rowDoc[this.key] : rowDoc;
    if (raw === undefined) {
      if (this.hasDefault) return this.default;
      raw = null;
    }
    if (this.convert) raw = this.convert(raw);
    if (raw === null) return null;
    switch (this.kind) {
      case 'id':
      case 'reference':
        return this.ids.key(raw, this.strategy);
      case 'jsonb':
        if (this.serdeFields) {
          return '{' + this.serdeFields.map((f) => JSON.stringify(f) + ':' + relaxed(raw[f])).join(',') + '}';
        }
        return relaxed(raw);
      case 'object_id_text':
        return raw.toHexString();
      case 'array':
        return raw.map(scalarOf);
      case 'enum':
        return raw;
      default:
        return this.type === 'numeric' ? numericOf(raw) : scalarOf(raw);
    }
  }
}

class Table {
  constructor(spec, ids, qualified) {
    this.name = spec.name;
    this.role = spec.role;
    this.parent = spec.parent;
    this.arrayKey = spec.array_key;
    this.columns = spec.columns.map((c) => new Column(c, ids));
    this.keyIndex = this.columns.findIndex((c) => c.name === spec.primary_key[0]);
    this.children = [];
    this.rows = [];
    this.insertHead = `INSERT INTO ${qualified(this.name)} (${this.columns.map((c) => `"${c.name}"`).join(', ')}) VALUES `;
  }

  emit(rowDoc, parentKey, position) {
    const row = this.columns.map((c) => c.value(rowDoc, parentKey, position));
    this.rows.push(row);
    const key = row[this.keyIndex];
    for (const child of this.children) {
      const items = rowDoc[child.arrayKey];
      if (!Array.isArray(items) || items.length === 0) continue;
      if (child.role === 'junction') child.emitJunction(items, key);
      else items.forEach((item, i) => child.emit(item, key, i));
    }
  }

  emitJunction(items, owner) {
    const seen = new Set();
    const target = this.columns[1];
    const withPosition = this.columns.length > 2;
    items.forEach((item, i) => {
      const value = target.value(item, owner, i);
      if (seen.has(value)) return;
      seen.add(value);
      this.rows.push(withPosition ? [owner, value, i] : [owner, value]);
    });
  }

  // Sends the waiting rows as INSERTs of at most 1,000 rows each.
  async flush(client) {
    let sent = 0;
    const width = this.columns.length;
    for (let start = 0; start < this.rows.length; start += ROWS_PER_INSERT) {
      const chunk = this.rows.slice(start, start + ROWS_PER_INSERT);
      const params = [];
      const tuples = [];
      for (const row of chunk) {
        const marks = [];
        for (let j = 0; j < width; j++) {
          params.push(row[j]);
          marks.push('$' + params.length);
        }
        tuples.push('(' + marks.join(', ') + ')');
      }
      await client.query(this.insertHead + tuples.join(', '), params);
      sent += chunk.length;
    }
    this.rows = [];
    return sent;
  }
}

// Yields every document of a .bson file.
function* documents(file) {
  const fd = fs.openSync(file, 'r');
  let buf = Buffer.alloc(1 << 20);
  let len = 0;
  let eof = false;
  try {
    for (;;) {
      if (len < 4 && !eof) {
        const n = fs.readSync(fd, buf, len, buf.length - len, null);
        if (n === 0) eof = true;
        len += n;
        continue;
      }
      if (len < 4) return;
      const size = buf.readInt32LE(0);
      if (len < size) {
        if (eof) throw new Error(`${file}: truncated document`);
        if (size > buf.length) {
          const bigger = Buffer.alloc(Math.max(size, buf.length * 2));
          buf.copy(bigger, 0, 0, len);
          buf = bigger;
        }
        const n = fs.readSync(fd, buf, len, buf.length - len, null);
        if (n === 0) eof = true;
        len += n;
        continue;
      }
      yield BSON.deserialize(buf.subarray(0, size), DESERIALIZE);
      buf.copy(buf, 0, size, len);
      len -= size;
    }
  } finally {
    fs.closeSync(fd);
  }
}

function parseArgs(argv) {
  const args = { schema: 'public' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    args[key] = argv[i + 1];
  }
  for (const required of ['dump', 'mapping', 'pgUrl']) {
    if (!args[required]) throw new Error(`--${required.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} is required`);
  }
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const mapping = JSON.parse(fs.readFileSync(args.mapping, 'utf8'));
  const ids = new Ids(mapping.conventions);
  const qualified = (name) => `"${args.schema}"."${name}"`;
  const client = new Client({ connectionString: args.pgUrl });
  await client.connect();
  const started = process.hrtime.bigint();
  let docs = 0;
  let rows = 0;
  try {
    for (const stmt of [...mapping.ddl.types, ...mapping.ddl.tables]) await client.query(stmt);
    for (const coll of mapping.collections) {
      const tables = coll.tables.map((t) => new Table(t, ids, qualified));
      const byName = new Map(tables.map((t) => [t.name, t]));
      for (const t of tables.slice(1)) byName.get(t.parent).children.push(t);
      await client.query('BEGIN');
      let pending = 0;
      for (const doc of documents(path.join(args.dump, `${coll.collection}.bson`))) {
        tables[0].emit(doc, null, null);
        docs += 1;
        pending += 1;
        if (pending === ROWS_PER_INSERT) {
          for (const t of tables) rows += await t.flush(client);
          pending = 0;
        }
      }
      for (const t of tables) rows += await t.flush(client);
      await client.query('COMMIT');
    }
    const loaded = process.hrtime.bigint();
    for (const stmt of [...mapping.ddl.foreign_keys, ...mapping.ddl.indexes]) await client.query(stmt);
    const done = process.hrtime.bigint();
    console.log(JSON.stringify({
      documents: docs,
      rows,
      load_seconds: Number(loaded - started) / 1e9,
      constraints_seconds: Number(done - loaded) / 1e9,
    }));
  } finally {
    await client.end();
  }
}

main().catch((e) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
