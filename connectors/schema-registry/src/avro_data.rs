//! Connect schemas and values ↔ Avro, as Confluent's `AvroData` maps them, so records written
//! by one side read back equal on the other:
//!
//! | Connect | Avro |
//! |---|---|
//! | int8, int16 | `int` with `"connect.type": "int8"` / `"int16"` |
//! | int32, int64, float32, float64, boolean, string, bytes | `int`, `long`, `float`, `double`, `boolean`, `string`, `bytes` |
//! | Decimal, Date, Time, Timestamp | `bytes` + `decimal` (scale, precision), `int` + `date`, `int` + `time-millis`, `long` + `timestamp-millis` |
//! | array | `array` |
//! | map with string keys / other keys | `map` / `array` of `io.confluent.connect.avro.MapEntry` records (`key`, `value`) |
//! | struct | `record` named by the schema's name (`io.confluent.connect.avro.ConnectDefault` when it has none) |
//! | optional | a union with `null` (first, default `null`; second when the default is a value) |
//!
//! Connect's name, version, doc and parameters ride in `connect.*` attributes. Reading goes the
//! other way from the writer's schema text (`apache-avro` drops unknown attributes of
//! primitives, so the text is read, not the parsed schema); Avro's `enum` reads as a string,
//! `fixed` as bytes, `timestamp-micros` and `time-micros` as Debezium's µs types. Unions other
//! than a type with `null` are refused.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use apache_avro::types::Value as Avro;
use connect_sdk::data::logical::{self, DATE, DECIMAL, MICRO_TIME, MICRO_TIMESTAMP, SCALE, TIME, TIMESTAMP};
use connect_sdk::data::{DataError, Schema, SchemaType, Struct, Value};
use serde_json::{Map, Value as Json, json};

const NAMESPACE: &str = "io.confluent.connect.avro";
const DEFAULT_RECORD: &str = "ConnectDefault";
const MAP_ENTRY: &str = "MapEntry";
/// Confluent's parameter holding a decimal's precision.
const PRECISION: &str = "connect.decimal.precision";

/// The Avro schema (as JSON) of a Connect schema.
pub fn avro_schema(schema: &Schema) -> Result<Json, DataError> {
    Writer::default().schema(schema)
}

#[derive(Default)]
struct Writer {
    /// Records defined so far, by full name: a second use of the same record refers to it.
    defined: HashMap<String, Json>,
    /// Names given to records without a name of their own.
    defaults: usize,
}

impl Writer {
    fn schema(&mut self, schema: &Schema) -> Result<Json, DataError> {
        let inner = self.non_null(schema)?;
        Ok(match (schema.optional, schema.default.as_deref()) {
            (false, _) => inner,
            (true, None | Some(Value::Null)) => json!(["null", inner]),
            (true, Some(_)) => json!([inner, "null"]),
        })
    }

    fn non_null(&mut self, schema: &Schema) -> Result<Json, DataError> {
        let mut avro = match (logical::logical_name(schema), schema.kind) {
            (Some(DECIMAL), _) => {
                let scale = logical::decimal_scale(schema)?;
                let precision: u32 = schema.parameters.get(PRECISION).and_then(|p| p.parse().ok()).unwrap_or(64);
                json!({"type": "bytes", "logicalType": "decimal", "scale": scale, "precision": precision})
            }
            (Some(DATE), _) => json!({"type": "int", "logicalType": "date"}),
            (Some(TIME), _) => json!({"type": "int", "logicalType": "time-millis"}),
            (Some(TIMESTAMP), _) => json!({"type": "long", "logicalType": "timestamp-millis"}),
            (_, SchemaType::Int8) => json!({"type": "int", "connect.type": "int8"}),
            (_, SchemaType::Int16) => json!({"type": "int", "connect.type": "int16"}),
            (_, SchemaType::Int32) => json!({"type": "int"}),
            (_, SchemaType::Int64) => json!({"type": "long"}),
            (_, SchemaType::Float32) => json!({"type": "float"}),
            (_, SchemaType::Float64) => json!({"type": "double"}),
            (_, SchemaType::Boolean) => json!({"type": "boolean"}),
            (_, SchemaType::String) => json!({"type": "string"}),
            (_, SchemaType::Bytes) => json!({"type": "bytes"}),
            (_, SchemaType::Array) => json!({"type": "array", "items": self.schema(part(schema.value_schema(), "array items")?)?}),
            (_, SchemaType::Map) => self.map(schema)?,
            (_, SchemaType::Struct) => return self.record(schema),
        };
        let object = avro.as_object_mut().expect("built as an object above");
        if let Some(name) = &schema.name {
            object.insert("connect.name".into(), json!(name));
        }
        if let Some(version) = schema.version {
            object.insert("connect.version".into(), json!(version));
        }
        if let Some(doc) = &schema.doc {
            object.insert("connect.doc".into(), json!(doc));
        }
        if !schema.parameters.is_empty() {
            object.insert("connect.parameters".into(), json!(schema.parameters));
        }
        // A bare primitive stays a bare name, as Avro writers spell it.
        if object.len() == 1 {
            return Ok(object.remove("type").unwrap_or(Json::Null));
        }
        Ok(avro)
    }

    fn map(&mut self, schema: &Schema) -> Result<Json, DataError> {
        let keys = part(schema.key_schema(), "map keys")?;
        let values = self.schema(part(schema.value_schema(), "map values")?)?;
        if keys.kind == SchemaType::String && !keys.optional && keys.name.is_none() {
            return Ok(json!({"type": "map", "values": values}));
        }
        let keys = self.schema(keys)?;
        let entry = json!({"type": "record", "name": MAP_ENTRY, "namespace": NAMESPACE,
            "fields": [{"name": "key", "type": keys}, {"name": "value", "type": values}]});
        Ok(json!({"type": "array", "items": self.define(entry)}))
    }

    fn record(&mut self, schema: &Schema) -> Result<Json, DataError> {
        let mut fields = Vec::new();
        for field in &schema.fields {
            check_name(&field.name)?;
            let mut avro = json!({"name": field.name, "type": self.schema(&field.schema)?});
            match field.schema.default.as_deref() {
                Some(default) => avro["default"] = default_json(default, &field.schema)?,
                None if field.schema.optional => avro["default"] = Json::Null,
                None => {}
            }
            if let Some(doc) = &field.schema.doc {
                avro["doc"] = json!(doc);
            }
            fields.push(avro);
        }
        let (namespace, name) = match &schema.name {
            Some(full) => match full.rsplit_once('.') {
                Some((namespace, name)) => (namespace.to_owned(), name.to_owned()),
                None => (String::new(), full.clone()),
            },
            None => {
                self.defaults += 1;
                let suffix = if self.defaults == 1 { String::new() } else { self.defaults.to_string() };
                (NAMESPACE.to_owned(), format!("{DEFAULT_RECORD}{suffix}"))
            }
        };
        check_name(&name)?;
        let mut record = json!({"type": "record", "name": name, "fields": fields});
        if !namespace.is_empty() {
            record["namespace"] = json!(namespace);
        }
        if let Some(doc) = &schema.doc {
            record["doc"] = json!(doc);
        }
        if let Some(version) = schema.version {
            record["connect.version"] = json!(version);
        }
        if let Some(name) = &schema.name {
            record["connect.name"] = json!(name);
        }
        if !schema.parameters.is_empty() {
            record["connect.parameters"] = json!(schema.parameters);
        }
        Ok(self.define(record))
    }

    /// `record` itself the first time its full name is used, its name afterwards (Avro refuses
    /// a name defined twice); a different record under a used name is renamed.
    fn define(&mut self, mut record: Json) -> Json {
        let full = |r: &Json| match r["namespace"].as_str() {
            Some(ns) => format!("{ns}.{}", r["name"].as_str().unwrap_or_default()),
            None => r["name"].as_str().unwrap_or_default().to_owned(),
        };
        let mut n = 1;
        let base = record["name"].as_str().unwrap_or_default().to_owned();
        loop {
            match self.defined.get(&full(&record)) {
                None => {
                    self.defined.insert(full(&record), record.clone());
                    return record;
                }
                Some(same) if *same == record => return json!(full(&record)),
                Some(_) => {
                    n += 1;
                    record["name"] = json!(format!("{base}{n}"));
                }
            }
        }
    }
}

fn part<'s>(schema: Option<&'s Schema>, what: &str) -> Result<&'s Schema, DataError> {
    schema.ok_or_else(|| DataError::new(format!("a schema without its {what}")))
}

/// Avro names: letters, digits and `_`, not starting with a digit.
fn check_name(name: &str) -> Result<(), DataError> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(DataError::new(format!("\"{name}\" is not a valid Avro name (letters, digits and _, not starting with a digit)")))
    }
}

/// A default value in Avro's JSON encoding of defaults.
fn default_json(value: &Value, schema: &Schema) -> Result<Json, DataError> {
    Ok(match value {
        Value::Null => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Int8(n) => json!(n),
        Value::Int16(n) => json!(n),
        Value::Int32(n) => json!(n),
        Value::Int64(n) => json!(n),
        Value::Float32(n) => json!(n),
        Value::Float64(n) => json!(n),
        Value::String(s) => json!(s),
        // Avro writes bytes defaults as a string of code points 0-255.
        Value::Bytes(bytes) => json!(bytes.iter().map(|b| char::from(*b)).collect::<String>()),
        Value::Array(items) => {
            let items_schema = part(schema.value_schema(), "array items")?;
            Json::Array(items.iter().map(|v| default_json(v, items_schema)).collect::<Result<_, _>>()?)
        }
        Value::Map(map) => {
            let (keys, values) = (part(schema.key_schema(), "map keys")?, part(schema.value_schema(), "map values")?);
            if keys.kind == SchemaType::String {
                let mut object = Map::new();
                for (k, v) in map {
                    object.insert(k.to_string().trim_matches('"').to_owned(), default_json(v, values)?);
                }
                Json::Object(object)
            } else {
                let entries = map.iter().map(|(k, v)| Ok(json!({"key": default_json(k, keys)?, "value": default_json(v, values)?})));
                Json::Array(entries.collect::<Result<_, DataError>>()?)
            }
        }
        Value::Struct(row) => {
            let mut object = Map::new();
            for (field, v) in row.schema().fields.iter().zip(row.values()) {
                object.insert(field.name.clone(), default_json(v, &field.schema)?);
            }
            Json::Object(object)
        }
    })
}

/// The Avro value of a Connect value of `schema`.
pub fn avro_value(value: &Value, schema: &Schema) -> Result<Avro, DataError> {
    let value = match (value, schema.default.as_deref()) {
        (Value::Null, Some(default)) if !schema.optional => default,
        (value, _) => value,
    };
    if !schema.optional {
        if value.is_null() {
            return Err(DataError::new(format!("null for a required {} field", schema.kind.kafka_name())));
        }
        return non_null_value(value, schema);
    }
    let null_first = matches!(schema.default.as_deref(), None | Some(Value::Null));
    Ok(match (value, null_first) {
        (Value::Null, true) => Avro::Union(0, Box::new(Avro::Null)),
        (Value::Null, false) => Avro::Union(1, Box::new(Avro::Null)),
        (value, true) => Avro::Union(1, Box::new(non_null_value(value, schema)?)),
        (value, false) => Avro::Union(0, Box::new(non_null_value(value, schema)?)),
    })
}

fn non_null_value(value: &Value, schema: &Schema) -> Result<Avro, DataError> {
    let mismatch = || DataError::new(format!("a {} value for a {} schema", value.type_name(), schema.kind.kafka_name()));
    Ok(match (logical::logical_name(schema), value) {
        (Some(DECIMAL), Value::Bytes(bytes)) => Avro::Decimal(apache_avro::Decimal::from(bytes.as_slice())),
        (Some(DATE), Value::Int32(days)) => Avro::Date(*days),
        (Some(TIME), Value::Int32(millis)) => Avro::TimeMillis(*millis),
        (Some(TIMESTAMP), Value::Int64(millis)) => Avro::TimestampMillis(*millis),
        (_, Value::Bool(b)) => Avro::Boolean(*b),
        (_, Value::Int8(n)) => Avro::Int(i32::from(*n)),
        (_, Value::Int16(n)) => Avro::Int(i32::from(*n)),
        (_, Value::Int32(n)) if schema.kind == SchemaType::Int64 => Avro::Long(i64::from(*n)),
        (_, Value::Int32(n)) => Avro::Int(*n),
        (_, Value::Int64(n)) => Avro::Long(*n),
        (_, Value::Float32(n)) if schema.kind == SchemaType::Float64 => Avro::Double(f64::from(*n)),
        (_, Value::Float32(n)) => Avro::Float(*n),
        (_, Value::Float64(n)) => Avro::Double(*n),
        (_, Value::String(s)) => Avro::String(s.clone()),
        (_, Value::Bytes(b)) => Avro::Bytes(b.clone()),
        (_, Value::Array(items)) => {
            let items_schema = part(schema.value_schema(), "array items")?;
            Avro::Array(items.iter().map(|v| avro_value(v, items_schema)).collect::<Result<_, _>>()?)
        }
        (_, Value::Map(map)) => {
            let (keys, values) = (part(schema.key_schema(), "map keys")?, part(schema.value_schema(), "map values")?);
            if keys.kind == SchemaType::String && !keys.optional && keys.name.is_none() {
                let mut out = HashMap::with_capacity(map.len());
                for (k, v) in map {
                    let Value::String(k) = k else { return Err(mismatch()) };
                    out.insert(k.clone(), avro_value(v, values)?);
                }
                Avro::Map(out)
            } else {
                let entries = map
                    .iter()
                    .map(|(k, v)| Ok(Avro::Record(vec![("key".into(), avro_value(k, keys)?), ("value".into(), avro_value(v, values)?)])));
                Avro::Array(entries.collect::<Result<_, DataError>>()?)
            }
        }
        (_, Value::Struct(row)) => {
            let mut fields = Vec::with_capacity(schema.fields.len());
            for field in &schema.fields {
                let value = row.schema().field_index(&field.name).map_or(&Value::Null, |i| &row.values()[i]);
                fields.push((
                    field.name.clone(),
                    avro_value(value, &field.schema).map_err(|e| DataError::new(format!("field {}: {e}", field.name)))?,
                ));
            }
            Avro::Record(fields)
        }
        (_, Value::Null) => return Err(mismatch()),
    })
}

/// The Connect schema of an Avro schema's JSON (the writer's schema text).
pub fn connect_schema(avro: &Json) -> Result<Schema, DataError> {
    Reader::default().schema(avro, None)
}

#[derive(Default)]
struct Reader {
    named: HashMap<String, Schema>,
}

impl Reader {
    fn schema(&mut self, avro: &Json, namespace: Option<&str>) -> Result<Schema, DataError> {
        match avro {
            Json::String(name) => self.named_or_primitive(name, namespace),
            Json::Array(branches) => {
                let non_null: Vec<&Json> = branches.iter().filter(|b| b.as_str() != Some("null")).collect();
                match (branches.len(), non_null.as_slice()) {
                    (2, [only]) => Ok(self.schema(only, namespace)?.optional()),
                    _ => Err(DataError::new(format!("the Avro union {avro} has no Connect type (only a type with null does)"))),
                }
            }
            Json::Object(object) => self.object(object, namespace),
            other => Err(DataError::new(format!("{other} is not an Avro schema"))),
        }
    }

    fn named_or_primitive(&self, name: &str, namespace: Option<&str>) -> Result<Schema, DataError> {
        let primitive = match name {
            "int" => Schema::int32(),
            "long" => Schema::int64(),
            "float" => Schema::float32(),
            "double" => Schema::float64(),
            "boolean" => Schema::boolean(),
            "string" => Schema::string(),
            "bytes" => Schema::bytes(),
            _ => {
                let qualified = namespace.filter(|_| !name.contains('.')).map(|ns| format!("{ns}.{name}"));
                return qualified
                    .and_then(|q| self.named.get(&q))
                    .or_else(|| self.named.get(name))
                    .cloned()
                    .ok_or_else(|| DataError::new(format!("the Avro type {name} is not defined")));
            }
        };
        Ok(primitive)
    }

    fn object(&mut self, avro: &Map<String, Json>, namespace: Option<&str>) -> Result<Schema, DataError> {
        let kind =
            avro.get("type").ok_or_else(|| DataError::new(format!("an Avro schema without a type: {}", Json::Object(avro.clone()))))?;
        let mut schema = match kind.as_str() {
            Some("record") => return self.record(avro, namespace),
            Some("enum") => Schema::string(),
            Some("fixed") => Schema::bytes(),
            Some("array") => {
                let items = avro.get("items").ok_or_else(|| DataError::new("an Avro array without items"))?;
                let entry = self.schema(items, namespace)?;
                let map_entry = entry.kind == SchemaType::Struct
                    && entry.name.is_none()
                    && entry.fields.len() == 2
                    && entry.fields[0].name == "key"
                    && entry.fields[1].name == "value"
                    && is_map_entry(items, &self.named);
                if map_entry { Schema::map(entry.fields[0].schema.clone(), entry.fields[1].schema.clone()) } else { Schema::array(entry) }
            }
            Some("map") => {
                let values = avro.get("values").ok_or_else(|| DataError::new("an Avro map without values"))?;
                Schema::map(Schema::string(), self.schema(values, namespace)?)
            }
            Some(primitive) => self.named_or_primitive(primitive, namespace)?,
            None => self.schema(kind, namespace)?,
        };
        match (avro.get("logicalType").and_then(Json::as_str), avro.get("connect.type").and_then(Json::as_str)) {
            (Some("decimal"), _) => {
                let scale = avro.get("scale").and_then(Json::as_i64).unwrap_or(0);
                schema = logical::decimal_schema(scale as i32);
                // 64 is what a decimal without a precision is written with.
                if let Some(precision) = avro.get("precision").and_then(Json::as_i64).filter(|p| *p != 64) {
                    schema = schema.with_parameter(PRECISION, precision.to_string());
                }
            }
            (Some("date"), _) => schema = logical::date_schema(),
            (Some("time-millis"), _) => schema = logical::time_schema(),
            (Some("timestamp-millis"), _) => schema = logical::timestamp_schema(),
            (Some("timestamp-micros"), _) => schema = Schema::int64().named(MICRO_TIMESTAMP),
            (Some("time-micros"), _) => schema = Schema::int64().named(MICRO_TIME),
            (_, Some("int8")) => schema = Schema::int8(),
            (_, Some("int16")) => schema = Schema::int16(),
            _ => {}
        }
        apply_connect_attributes(&mut schema, avro);
        if let (Some("enum"), Some(symbols)) = (kind.as_str(), avro.get("symbols").and_then(Json::as_array)) {
            let name = full_name(avro, namespace);
            schema = schema.with_parameter("io.confluent.connect.avro.Enum", &name);
            for symbol in symbols.iter().filter_map(Json::as_str) {
                schema = schema.with_parameter(format!("io.confluent.connect.avro.Enum.{symbol}"), symbol);
            }
            self.named.insert(name, schema.clone());
        }
        if kind.as_str() == Some("fixed") {
            self.named.insert(full_name(avro, namespace), schema.clone());
        }
        Ok(schema)
    }

    fn record(&mut self, avro: &Map<String, Json>, namespace: Option<&str>) -> Result<Schema, DataError> {
        let full = full_name(avro, namespace);
        let own_namespace = full.rsplit_once('.').map(|(ns, _)| ns.to_owned());
        let mut schema = Schema::structure();
        let generated =
            full.strip_prefix(&format!("{NAMESPACE}.")).is_some_and(|n| n.starts_with(DEFAULT_RECORD) || n.starts_with(MAP_ENTRY));
        if !generated {
            schema = schema.named(avro.get("connect.name").and_then(Json::as_str).unwrap_or(&full));
        }
        if let Some(doc) = avro.get("doc").and_then(Json::as_str) {
            schema = schema.with_doc(doc);
        }
        apply_connect_attributes(&mut schema, avro);
        // Registered before its fields: a field may refer to the record itself... which Connect
        // cannot express, so such a reference reads as an empty struct of the same name.
        self.named.insert(full.clone(), schema.clone());
        for field in avro.get("fields").and_then(Json::as_array).into_iter().flatten() {
            let name = field.get("name").and_then(Json::as_str).ok_or_else(|| DataError::new("an Avro field without a name"))?;
            let kind = field.get("type").ok_or_else(|| DataError::new(format!("Avro field {name} without a type")))?;
            let mut field_schema = self.schema(kind, own_namespace.as_deref())?;
            if let Some(default) = field.get("default").filter(|d| !d.is_null()) {
                field_schema.default = Some(Box::new(value_of_default(default, &field_schema)?));
            }
            if let Some(doc) = field.get("doc").and_then(Json::as_str) {
                field_schema.doc = Some(doc.to_owned());
            }
            schema = schema.field(name, field_schema);
        }
        self.named.insert(full, schema.clone());
        Ok(schema)
    }
}

fn is_map_entry(items: &Json, named: &HashMap<String, Schema>) -> bool {
    let name = match items {
        Json::Object(o) => full_name(o, None),
        Json::String(s) => s.clone(),
        _ => return false,
    };
    name.strip_prefix(&format!("{NAMESPACE}.")).is_some_and(|n| n.starts_with(MAP_ENTRY))
        && (items.is_object() || named.contains_key(&name))
}

fn full_name(avro: &Map<String, Json>, namespace: Option<&str>) -> String {
    let name = avro.get("name").and_then(Json::as_str).unwrap_or_default();
    if name.contains('.') {
        return name.to_owned();
    }
    match avro.get("namespace").and_then(Json::as_str).or(namespace).filter(|ns| !ns.is_empty()) {
        Some(ns) => format!("{ns}.{name}"),
        None => name.to_owned(),
    }
}

fn apply_connect_attributes(schema: &mut Schema, avro: &Map<String, Json>) {
    if let Some(name) = avro.get("connect.name").and_then(Json::as_str) {
        schema.name = Some(name.to_owned());
    }
    if let Some(version) = avro.get("connect.version").and_then(Json::as_i64) {
        schema.version = i32::try_from(version).ok();
    }
    if let Some(doc) = avro.get("connect.doc").and_then(Json::as_str) {
        schema.doc = Some(doc.to_owned());
    }
    for (key, value) in avro.get("connect.parameters").and_then(Json::as_object).into_iter().flatten() {
        if let Some(value) = value.as_str() {
            schema.parameters.insert(key.clone(), value.to_owned());
        }
    }
    if schema.name.as_deref() == Some(DECIMAL) && !schema.parameters.contains_key(SCALE) {
        let scale = avro.get("scale").and_then(Json::as_i64).unwrap_or(0);
        schema.parameters.insert(SCALE.to_owned(), scale.to_string());
    }
}

/// A field default in Avro's JSON encoding, as a value of `schema`.
fn value_of_default(json: &Json, schema: &Schema) -> Result<Value, DataError> {
    let bad = || DataError::new(format!("the default {json} does not fit a {} field", schema.kind.kafka_name()));
    Ok(match schema.kind {
        SchemaType::Bytes => Value::Bytes(json.as_str().ok_or_else(bad)?.chars().map(|c| c as u32 as u8).collect()),
        SchemaType::Array => {
            let items = part(schema.value_schema(), "array items")?;
            Value::Array(json.as_array().ok_or_else(bad)?.iter().map(|v| value_of_default(v, items)).collect::<Result<_, _>>()?)
        }
        SchemaType::Map => {
            let (keys, values) = (part(schema.key_schema(), "map keys")?, part(schema.value_schema(), "map values")?);
            let mut map = BTreeMap::new();
            match json {
                Json::Object(object) => {
                    for (k, v) in object {
                        map.insert(Value::String(k.clone()), value_of_default(v, values)?);
                    }
                }
                Json::Array(entries) => {
                    for entry in entries {
                        map.insert(value_of_default(&entry["key"], keys)?, value_of_default(&entry["value"], values)?);
                    }
                }
                _ => return Err(bad()),
            }
            Value::Map(map)
        }
        SchemaType::Struct => {
            let mut values = Vec::with_capacity(schema.fields.len());
            for field in &schema.fields {
                values.push(match json.get(&field.name) {
                    Some(v) if !v.is_null() => value_of_default(v, &field.schema)?,
                    _ => Value::Null,
                });
            }
            Value::Struct(Struct::from_values(Arc::new(schema.clone()), values)?)
        }
        _ => connect_sdk::converter::json_value_of(json, schema)?,
    })
}

/// The Connect value of an Avro value read with the writer's schema, `schema` being the
/// Connect schema of that writer's schema.
pub fn connect_value(avro: Avro, schema: &Schema) -> Result<Value, DataError> {
    let mismatch = |what: &str| DataError::new(format!("Avro {what} for a {} schema", schema.kind.kafka_name()));
    Ok(match avro {
        Avro::Union(_, inner) => connect_value(*inner, schema)?,
        Avro::Null => Value::Null,
        Avro::Boolean(b) => Value::Bool(b),
        Avro::Int(n) | Avro::Date(n) | Avro::TimeMillis(n) => match schema.kind {
            SchemaType::Int8 => Value::Int8(i8::try_from(n).map_err(|_| mismatch("int out of int8 range"))?),
            SchemaType::Int16 => Value::Int16(i16::try_from(n).map_err(|_| mismatch("int out of int16 range"))?),
            SchemaType::Int64 => Value::Int64(i64::from(n)),
            _ => Value::Int32(n),
        },
        Avro::Long(n) | Avro::TimestampMillis(n) | Avro::TimestampMicros(n) | Avro::TimeMicros(n) | Avro::TimestampNanos(n) => {
            Value::Int64(n)
        }
        Avro::LocalTimestampMillis(n) | Avro::LocalTimestampMicros(n) | Avro::LocalTimestampNanos(n) => Value::Int64(n),
        Avro::Float(n) if schema.kind == SchemaType::Float64 => Value::Float64(f64::from(n)),
        Avro::Float(n) => Value::Float32(n),
        Avro::Double(n) => Value::Float64(n),
        Avro::String(s) | Avro::Enum(_, s) => Value::String(s),
        Avro::Uuid(u) => Value::String(u.to_string()),
        Avro::Bytes(b) | Avro::Fixed(_, b) => Value::Bytes(b),
        Avro::Decimal(d) => Value::Bytes(Vec::<u8>::try_from(d).map_err(|e| DataError::new(format!("decimal: {e}")))?),
        Avro::Array(items) => match schema.kind {
            SchemaType::Map => {
                let (keys, values) = (part(schema.key_schema(), "map keys")?, part(schema.value_schema(), "map values")?);
                let mut map = BTreeMap::new();
                for entry in items {
                    let Avro::Record(mut fields) = entry else { return Err(mismatch("array entry")) };
                    let value = fields.pop().map(|(_, v)| v).unwrap_or(Avro::Null);
                    let key = fields.pop().map(|(_, k)| k).unwrap_or(Avro::Null);
                    map.insert(connect_value(key, keys)?, connect_value(value, values)?);
                }
                Value::Map(map)
            }
            _ => {
                let items_schema = part(schema.value_schema(), "array items")?;
                Value::Array(items.into_iter().map(|v| connect_value(v, items_schema)).collect::<Result<_, _>>()?)
            }
        },
        Avro::Map(entries) => {
            let values = part(schema.value_schema(), "map values")?;
            let mut map = BTreeMap::new();
            for (k, v) in entries {
                map.insert(Value::String(k), connect_value(v, values)?);
            }
            Value::Map(map)
        }
        Avro::Record(fields) => {
            let mut values = Vec::with_capacity(schema.fields.len());
            let mut by_name: HashMap<String, Avro> = fields.into_iter().collect();
            for field in &schema.fields {
                values.push(match by_name.remove(&field.name) {
                    Some(v) => connect_value(v, &field.schema)?,
                    None => Value::Null,
                });
            }
            Value::Struct(Struct::from_values(Arc::new(schema.clone()), values)?)
        }
        other => return Err(DataError::new(format!("the Avro value {other:?} has no Connect type"))),
    })
}
