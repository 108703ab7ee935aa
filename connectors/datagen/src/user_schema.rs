//! Records of a user-given Avro schema (`schema.string`, as Confluent's datagen takes it):
//! random values of every type the schema names, bounded by the `arg.properties` a type may
//! carry (`options`, `range`, `length`), and like the quickstarts a function of the seed, the
//! task and the sequence number.

use std::collections::BTreeMap;
use std::sync::Arc;

use connect_schema_registry::avro_data::connect_schema;
use connect_sdk::data::logical::{self, Decimal};
use connect_sdk::data::{Schema, SchemaType, Struct, Value};
use connect_sdk::prelude::*;
use connect_sdk::serde_json::{self, Map, Value as Json};

use crate::quickstart::{EPOCH_MS, Rng, Sample};

/// The parameter prefix under which an Avro enum's symbols are kept in its Connect schema.
const ENUM_SYMBOL: &str = "io.confluent.connect.avro.Enum.";

/// The most bytes one record may take (`payload.bytes`' bound too).
const MAX_RECORD_BYTES: f64 = 1_048_576.0;

/// What an `arg.properties` object may say of a type.
const ARG_KEYS: [&str; 3] = ["options", "range", "length"];

/// How a field's values are drawn, from its type's `arg.properties`.
#[derive(Clone, Debug, Default)]
struct Hints {
    /// Values to pick from (in the Avro JSON encoding of the type).
    options: Vec<Json>,
    /// Bounds of a number, both included.
    range: Option<(f64, f64)>,
    /// Bounds of a string's length, or of an array's or a map's number of entries.
    length: Option<(u64, u64)>,
}

/// A user-given schema, parsed once per task into the tree its values are drawn by, with
/// the field records are keyed by.
pub struct UserSchema {
    root: Node,
    key_field: Option<String>,
}

/// One type of the schema: its Connect schema (shared by every struct drawn of it), its
/// hints, its options as values of its type, its field's name (a string's default text),
/// and the nodes of its parts (a struct's fields, an array's items, a map's values).
struct Node {
    schema: Arc<Schema>,
    hints: Hints,
    options: Vec<Value>,
    name: String,
    parts: Vec<Node>,
}

impl Node {
    /// The tree of `schema` at `path`; `hints` by path (see [`collect_hints`]). Fails on the
    /// first option that is not a value of its type (rather than at the first record that
    /// picks it).
    fn of(schema: &Schema, path: &str, hints: &BTreeMap<String, Hints>) -> Result<Node> {
        let parts = match schema.kind {
            SchemaType::Struct => schema
                .fields
                .iter()
                .map(|field| {
                    Node::of(&field.schema, &if path.is_empty() { field.name.clone() } else { format!("{path}.{}", field.name) }, hints)
                })
                .collect::<Result<_>>()?,
            SchemaType::Array | SchemaType::Map => {
                schema.value_schema().map(|inner| Node::of(inner, &format!("{path}[]"), hints)).into_iter().collect::<Result<_>>()?
            }
            _ => Vec::new(),
        };
        let field = path.rsplit('.').next().unwrap_or_default().trim_end_matches("[]");
        let name = if field.is_empty() { "value".to_owned() } else { field.to_owned() };
        let hints = hints.get(path).cloned().unwrap_or_default();
        let options = hints
            .options
            .iter()
            .map(|option| option_value(option.clone(), schema).map_err(|e| Error::other(format!("an option of field {name}: {e}"))))
            .collect::<Result<_>>()?;
        Ok(Node { schema: Arc::new(schema.clone()), hints, options, name, parts })
    }

    /// The most bytes a value of this type may take, roughly (numbers as 8 bytes).
    fn max_bytes(&self) -> f64 {
        let length = |default: u64| self.hints.length.map_or(default, |(_, max)| max) as f64;
        let part = || self.parts.first().map_or(0.0, Node::max_bytes);
        match self.schema.kind {
            SchemaType::Struct => self.parts.iter().map(Node::max_bytes).sum(),
            SchemaType::Array => length(4) * part(),
            SchemaType::Map => length(3) * (16.0 + part()),
            SchemaType::String => length(0).max(self.name.len() as f64 + 4.0),
            SchemaType::Bytes => length(8),
            _ => 8.0,
        }
    }
}

impl UserSchema {
    /// Parses `text` (an Avro record schema); `key_field` names the top-level field records
    /// are keyed by. An error names the key it is about (`schema.string` or
    /// `schema.keyfield`) and says what is wrong.
    pub fn parse(text: &str, key_field: Option<&str>) -> Result<UserSchema, (&'static str, String)> {
        let avro: Json = serde_json::from_str(text).map_err(|e| ("schema.string", format!("is not JSON: {e}")))?;
        if avro.get("type").and_then(Json::as_str) != Some("record") {
            return Err((
                "schema.string",
                "must be an Avro record schema ({\"type\": \"record\", \"name\": ..., \"fields\": [...]})".into(),
            ));
        }
        let mut hints = BTreeMap::new();
        collect_hints(&avro, "", &mut hints).map_err(|e| ("schema.string", e))?;
        let value = connect_schema(&avro).map_err(|e| ("schema.string", format!("is not a schema datagen can fill: {e}")))?;
        if let Some(field) = key_field
            && value.field_named(field).is_none()
        {
            let fields: Vec<&str> = value.fields.iter().map(|f| f.name.as_str()).collect();
            return Err(("schema.keyfield", format!("\"{field}\" is not a field of the schema (its fields: {})", fields.join(", "))));
        }
        let root = Node::of(&value, "", &hints).map_err(|e| ("schema.string", e.to_string()))?;
        let bytes = root.max_bytes();
        if bytes > MAX_RECORD_BYTES {
            return Err((
                "schema.string",
                format!(
                    "a record of it may reach {bytes:.0} bytes, and the most is {MAX_RECORD_BYTES:.0}: lower the length of its arrays, maps, strings or bytes"
                ),
            ));
        }
        Ok(UserSchema { root, key_field: key_field.map(str::to_owned) })
    }

    /// Record `n` of task `task` under `seed`: the key is the key field's value (the task id
    /// without one).
    pub fn sample(&self, seed: u64, task: u32, n: u64) -> Result<Sample> {
        let mut draw = Draw { rng: Rng::new(seed, task, n), n };
        let value = draw.value(&self.root)?;
        let (key, key_schema) = match (&self.key_field, &value) {
            (Some(field), Value::Struct(record)) => {
                let schema = self.root.schema.field_named(field).map_or_else(Schema::string, |f| f.schema.clone());
                (record.get(field).cloned().unwrap_or_default(), schema)
            }
            _ => (Value::Int64(i64::from(task)), Schema::int64()),
        };
        Ok(Sample { key, key_schema, value, value_schema: (*self.root.schema).clone() })
    }
}

/// Reads the `arg.properties` of every type in `avro` into `hints`, by path: the record's
/// fields by their names, dotted when nested; an array's items and a map's values at their
/// container's path followed by `[]`.
fn collect_hints(avro: &Json, path: &str, hints: &mut BTreeMap<String, Hints>) -> Result<(), String> {
    match avro {
        Json::Array(branches) => branches.iter().try_for_each(|branch| collect_hints(branch, path, hints)),
        Json::Object(object) => {
            if let Some(args) = object.get("arg.properties") {
                hints.insert(path.to_owned(), parse_hints(args, path)?);
            }
            for field in object.get("fields").and_then(Json::as_array).into_iter().flatten() {
                let name = field.get("name").and_then(Json::as_str).unwrap_or_default();
                let nested = if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") };
                if let Some(kind) = field.get("type") {
                    collect_hints(kind, &nested, hints)?;
                }
                if field.get("arg.properties").is_some() {
                    return Err(format!(
                        "field {nested}: arg.properties belongs in its type ({{\"type\": {{\"type\": ..., \"arg.properties\": ...}}}})"
                    ));
                }
            }
            for (part, inner_path) in [("items", format!("{path}[]")), ("values", format!("{path}[]")), ("type", path.to_owned())] {
                if let Some(inner) = object.get(part).filter(|inner| !inner.is_string()) {
                    collect_hints(inner, &inner_path, hints)?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn parse_hints(args: &Json, path: &str) -> Result<Hints, String> {
    let at = if path.is_empty() { "the record".to_owned() } else { format!("field {path}") };
    let args = args.as_object().ok_or_else(|| format!("{at}: arg.properties must be an object"))?;
    if let Some(unknown) = args.keys().find(|key| !ARG_KEYS.contains(&key.as_str())) {
        return Err(format!("{at}: arg.properties \"{unknown}\" is not supported (supported: {})", ARG_KEYS.join(", ")));
    }
    let bounds = |name: &str| -> Result<Option<(f64, f64)>, String> {
        let Some(bound) = args.get(name) else { return Ok(None) };
        if let Some(exact) = bound.as_f64() {
            return Ok(Some((exact, exact)));
        }
        let object: &Map<String, Json> =
            bound.as_object().ok_or_else(|| format!("{at}: {name} must be a number or {{\"min\": ..., \"max\": ...}}"))?;
        let end = |end: &str| object.get(end).and_then(Json::as_f64).ok_or_else(|| format!("{at}: {name} needs a numeric {end}"));
        let (min, max) = (end("min")?, end("max")?);
        if min > max {
            return Err(format!("{at}: {name} min {min} is above its max {max}"));
        }
        Ok(Some((min, max)))
    };
    let options = match args.get("options") {
        None => Vec::new(),
        Some(Json::Array(options)) if !options.is_empty() => options.clone(),
        Some(_) => return Err(format!("{at}: options must be a non-empty array")),
    };
    let length = bounds("length")?;
    if length.is_some_and(|(min, max)| min < 0.0 || max > 10_000.0) {
        return Err(format!("{at}: length must lie within 0..=10000"));
    }
    Ok(Hints { options, range: bounds("range")?, length: length.map(|(min, max)| (min as u64, max as u64)) })
}

/// One record's draw.
struct Draw {
    rng: Rng,
    n: u64,
}

impl Draw {
    /// A number in `min..=max`.
    fn number(&mut self, (min, max): (f64, f64)) -> f64 {
        min + (max - min) * (self.rng.below(1 << 53) as f64 / ((1u64 << 53) - 1) as f64)
    }

    /// An integer in the hinted range, else in `default`.
    fn integer(&mut self, hints: &Hints, default: (f64, f64)) -> i64 {
        let (min, max) = hints.range.unwrap_or(default);
        let (min, max) = (min.ceil() as i64, max.floor() as i64);
        min + self.rng.below((max - min).max(0) as u64 + 1) as i64
    }

    /// A length in the hinted bounds, else in `default`.
    fn count(&mut self, hints: &Hints, default: (u64, u64)) -> u64 {
        let (min, max) = hints.length.unwrap_or(default);
        min + self.rng.below(max.saturating_sub(min) + 1)
    }

    fn value(&mut self, node: &Node) -> Result<Value> {
        let (schema, hints) = (&*node.schema, &node.hints);
        if !node.options.is_empty() {
            return Ok(node.options[self.rng.below(node.options.len() as u64) as usize].clone());
        }
        if schema.optional && self.rng.below(4) == 0 {
            return Ok(Value::Null);
        }
        let at = EPOCH_MS + self.n as i64 * 1_000;
        Ok(match (logical::logical_name(schema), schema.kind) {
            (Some(logical::TIMESTAMP), _) => Value::Int64(at + self.rng.below(1_000) as i64),
            (Some(logical::MICRO_TIMESTAMP), _) => Value::Int64(at * 1_000 + self.rng.below(1_000_000) as i64),
            (Some(logical::DATE), _) => Value::Int32((EPOCH_MS / 86_400_000) as i32 + self.rng.below(365) as i32),
            (Some(logical::TIME), _) => Value::Int32(self.rng.below(86_400_000) as i32),
            (Some(logical::MICRO_TIME), _) => Value::Int64(self.rng.below(86_400_000_000) as i64),
            (Some(logical::DECIMAL), _) => {
                let scale = logical::decimal_scale(schema)?;
                let number = self.number(hints.range.unwrap_or((0.0, 1_000.0)));
                Decimal::new((number * 10f64.powi(scale)).round() as i128, scale).to_value()
            }
            (_, SchemaType::Boolean) => Value::Bool(self.rng.below(2) == 0),
            (_, SchemaType::Int8) => Value::Int8(self.integer(hints, (0.0, 100.0)).clamp(i8::MIN.into(), i8::MAX.into()) as i8),
            (_, SchemaType::Int16) => Value::Int16(self.integer(hints, (0.0, 1_000.0)).clamp(i16::MIN.into(), i16::MAX.into()) as i16),
            (_, SchemaType::Int32) => Value::Int32(self.integer(hints, (0.0, 1_000.0)).clamp(i32::MIN.into(), i32::MAX.into()) as i32),
            (_, SchemaType::Int64) => Value::Int64(self.integer(hints, (0.0, 1_000_000.0))),
            (_, SchemaType::Float32) => Value::Float32(self.number(hints.range.unwrap_or((0.0, 1_000.0))) as f32),
            (_, SchemaType::Float64) => Value::Float64(self.number(hints.range.unwrap_or((0.0, 1_000.0)))),
            (_, SchemaType::String) => match enum_symbols(schema) {
                symbols if !symbols.is_empty() => Value::from(symbols[self.rng.below(symbols.len() as u64) as usize]),
                _ if hints.length.is_some() => {
                    let length = self.count(hints, (0, 0));
                    Value::from((0..length).map(|_| char::from(b'a' + self.rng.below(26) as u8)).collect::<String>())
                }
                _ => Value::from(format!("{}_{}", node.name, self.rng.below(1_000))),
            },
            (_, SchemaType::Bytes) => Value::Bytes((0..self.count(hints, (8, 8))).map(|_| self.rng.below(256) as u8).collect()),
            (_, SchemaType::Array) => {
                let items = node.parts.first().ok_or_else(|| Error::other("an array schema without items"))?;
                Value::Array((0..self.count(hints, (1, 4))).map(|_| self.value(items)).collect::<Result<_>>()?)
            }
            (_, SchemaType::Map) => {
                let values = node.parts.first().ok_or_else(|| Error::other("a map schema without values"))?;
                let mut map = BTreeMap::new();
                for entry in 0..self.count(hints, (1, 3)) {
                    map.insert(Value::from(format!("key_{entry}")), self.value(values)?);
                }
                Value::Map(map)
            }
            (_, SchemaType::Struct) => {
                let fields = node.parts.iter().map(|field| self.value(field)).collect::<Result<Vec<_>>>()?;
                Value::Struct(Struct::from_values(node.schema.clone(), fields)?)
            }
        })
    }
}

/// An Avro enum's symbols, as its Connect schema keeps them.
fn enum_symbols(schema: &Schema) -> Vec<&str> {
    schema.parameters.iter().filter(|(key, _)| key.starts_with(ENUM_SYMBOL)).map(|(_, symbol)| symbol.as_str()).collect()
}

/// The value of an option given in JSON, checked against the field's schema.
fn option_value(option: Json, schema: &Schema) -> Result<Value> {
    let value = match (logical::logical_name(schema), schema.kind, &option) {
        (Some(logical::DECIMAL), _, _) => {
            let scale = logical::decimal_scale(schema)?;
            Decimal::parse(option.to_string().trim_matches('"'), scale)?.to_value()
        }
        (_, SchemaType::Int8, Json::Number(n)) => {
            Value::Int8(n.as_i64().and_then(|n| i8::try_from(n).ok()).ok_or_else(|| not_a(&option, schema))?)
        }
        (_, SchemaType::Int16, Json::Number(n)) => {
            Value::Int16(n.as_i64().and_then(|n| i16::try_from(n).ok()).ok_or_else(|| not_a(&option, schema))?)
        }
        (_, SchemaType::Int32, Json::Number(n)) => {
            Value::Int32(n.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or_else(|| not_a(&option, schema))?)
        }
        (_, SchemaType::Int64, Json::Number(n)) => Value::Int64(n.as_i64().ok_or_else(|| not_a(&option, schema))?),
        (_, SchemaType::Float32, Json::Number(n)) => Value::Float32(n.as_f64().unwrap_or_default() as f32),
        (_, SchemaType::Float64, Json::Number(n)) => Value::Float64(n.as_f64().unwrap_or_default()),
        (_, SchemaType::Boolean, Json::Bool(b)) => Value::Bool(*b),
        (_, SchemaType::String, Json::String(s)) => Value::from(s.as_str()),
        (_, _, Json::Null) if schema.optional => Value::Null,
        _ => return Err(not_a(&option, schema)),
    };
    Ok(value)
}

fn not_a(option: &Json, schema: &Schema) -> Error {
    Error::other(format!("{option} is not a value of type {}", schema.kind.kafka_name()))
}
