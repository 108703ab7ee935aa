//! Sample records with schemas, after Confluent's datagen quickstarts: users, orders,
//! pageviews, stock trades, and purchases (nested: arrays, a map, optional fields, decimals
//! and timestamps). Each record is a function of the seed, the task and its sequence number,
//! so a run is reproducible and a restarted task emits what it would have emitted.

use std::sync::Arc;

use connect_sdk::data::logical::{self, Decimal};
use connect_sdk::data::{Schema, Struct, Value};
use connect_sdk::prelude::*;

/// Which sample records `datagen-source` emits, each with a Connect schema (for the `avro`,
/// `json-schema` and `json` converters and schema-aware sinks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Quickstart {
    /// `shop.User`: `registertime` (timestamp), `userid`, `regionid`, `gender`; key `userid`.
    Users,
    /// `shop.Order`: `ordertime` (timestamp), `orderid`, `itemid`, `orderunits`, and an
    /// `address` struct (`city`, `state`, `zipcode`); key `orderid`.
    Orders,
    /// `shop.Pageview`: `viewtime` (timestamp), `userid`, `pageid`; key `pageid`.
    Pageviews,
    /// `shop.StockTrade`: `side`, `quantity`, `symbol`, `price`, `account`, `userid`; key
    /// `symbol`.
    StockTrades,
    /// `shop.Purchase`, nested: `id`, `purchased_at` (timestamp), a `customer` struct with an
    /// optional `email`, an array of `items` (struct: `sku`, `quantity`, `price` as a
    /// decimal of scale 2), a map of `attributes`, an optional `coupon` and a decimal
    /// `total`; key `id`.
    Purchases,
}

/// Where the sample timestamps start (2026-01-01T00:00:00Z): a record's fields do not depend
/// on when it was made.
pub(crate) const EPOCH_MS: i64 = 1_767_225_600_000;

/// A record's key and value, with their schemas.
pub struct Sample {
    /// The key.
    pub key: Value,
    /// The key's schema.
    pub key_schema: Schema,
    /// The value (a struct).
    pub value: Value,
    /// The value's schema.
    pub value_schema: Schema,
}

/// The schemas of one quickstart, built once per task.
pub struct Schemas {
    quickstart: Quickstart,
    value: Arc<Schema>,
    nested: Vec<Arc<Schema>>,
}

impl Quickstart {
    /// The value field its records are keyed by.
    fn key_field(self) -> &'static str {
        match self {
            Quickstart::Users => "userid",
            Quickstart::Orders => "orderid",
            Quickstart::Pageviews => "pageid",
            Quickstart::StockTrades => "symbol",
            Quickstart::Purchases => "id",
        }
    }

    /// Its value schema, and the schemas of the structs nested in it.
    pub fn schemas(self) -> Schemas {
        let (value, nested) = match self {
            Quickstart::Users => (
                Schema::structure()
                    .named("shop.User")
                    .field("registertime", logical::timestamp_schema())
                    .field("userid", Schema::string())
                    .field("regionid", Schema::string())
                    .field("gender", Schema::string()),
                Vec::new(),
            ),
            Quickstart::Orders => {
                let address = Schema::structure()
                    .named("shop.Address")
                    .field("city", Schema::string())
                    .field("state", Schema::string())
                    .field("zipcode", Schema::int64());
                let order = Schema::structure()
                    .named("shop.Order")
                    .field("ordertime", logical::timestamp_schema())
                    .field("orderid", Schema::int64())
                    .field("itemid", Schema::string())
                    .field("orderunits", Schema::float64())
                    .field("address", address.clone());
                (order, vec![address])
            }
            Quickstart::Pageviews => (
                Schema::structure()
                    .named("shop.Pageview")
                    .field("viewtime", logical::timestamp_schema())
                    .field("userid", Schema::string())
                    .field("pageid", Schema::string()),
                Vec::new(),
            ),
            Quickstart::StockTrades => (
                Schema::structure()
                    .named("shop.StockTrade")
                    .field("side", Schema::string())
                    .field("quantity", Schema::int32())
                    .field("symbol", Schema::string())
                    .field("price", Schema::int32())
                    .field("account", Schema::string())
                    .field("userid", Schema::string()),
                Vec::new(),
            ),
            Quickstart::Purchases => {
                let customer =
                    Schema::structure().named("shop.Customer").field("name", Schema::string()).field("email", Schema::string().optional());
                let item = Schema::structure()
                    .named("shop.Item")
                    .field("sku", Schema::string())
                    .field("quantity", Schema::int32())
                    .field("price", logical::decimal_schema(2));
                let purchase = Schema::structure()
                    .named("shop.Purchase")
                    .field("id", Schema::int64())
                    .field("purchased_at", logical::timestamp_schema())
                    .field("customer", customer.clone())
                    .field("items", Schema::array(item.clone()))
                    .field("attributes", Schema::map(Schema::string(), Schema::string()))
                    .field("coupon", Schema::string().optional())
                    .field("total", logical::decimal_schema(2));
                (purchase, vec![customer, item])
            }
        };
        Schemas { quickstart: self, value: Arc::new(value), nested: nested.into_iter().map(Arc::new).collect() }
    }
}

impl Schemas {
    /// Record `n` of task `task` under `seed`.
    pub fn sample(&self, seed: u64, task: u32, n: u64) -> Result<Sample> {
        let mut rng = Rng::new(seed, task, n);
        // Sequence numbers of different tasks stay apart: task t's ids are t, t + 2^40, ...
        let id = (u64::from(task) << 40 | n) as i64;
        let at = EPOCH_MS + n as i64 * 1_000 + rng.below(1_000) as i64;
        let fields: Vec<Value> = match self.quickstart {
            Quickstart::Users => vec![
                Value::Int64(at),
                format!("User_{}", 1 + rng.below(9)).into(),
                format!("Region_{}", 1 + rng.below(9)).into(),
                rng.pick(&["MALE", "FEMALE", "OTHER"]).into(),
            ],
            Quickstart::Orders => {
                let (city, state) = rng.pick(&[("Austin", "TX"), ("Boston", "MA"), ("Denver", "CO"), ("Portland", "OR"), ("Miami", "FL")]);
                let address = Struct::from_values(
                    self.nested[0].clone(),
                    vec![city.into(), state.into(), Value::Int64(10_000 + rng.below(90_000) as i64)],
                )?;
                vec![
                    Value::Int64(at),
                    Value::Int64(id),
                    format!("Item_{}", rng.below(1_000)).into(),
                    Value::Float64(rng.below(1_000) as f64 / 100.0 + 0.01),
                    Value::Struct(address),
                ]
            }
            Quickstart::Pageviews => {
                vec![Value::Int64(at), format!("User_{}", 1 + rng.below(9)).into(), format!("Page_{}", 1 + rng.below(99)).into()]
            }
            Quickstart::StockTrades => vec![
                rng.pick(&["BUY", "SELL"]).into(),
                Value::Int32(1 + rng.below(5_000) as i32),
                rng.pick(&["ZBZX", "ZJZZT", "ZTEST", "ZVV", "ZVZZT", "ZWZZT", "ZXZZT"]).into(),
                Value::Int32(1 + rng.below(1_000) as i32),
                rng.pick(&["ABC123", "LMN456", "XYZ789"]).into(),
                format!("User_{}", 1 + rng.below(9)).into(),
            ],
            Quickstart::Purchases => {
                let name = rng.pick(&["Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret"]);
                let email = if rng.below(4) == 0 { Value::Null } else { format!("{}@example.com", name.to_lowercase()).into() };
                let customer = Struct::from_values(self.nested[0].clone(), vec![name.into(), email])?;
                let mut total: i128 = 0;
                let items = (0..1 + rng.below(4))
                    .map(|_| {
                        let quantity = 1 + rng.below(5) as i32;
                        let cents = 99 + i128::from(rng.below(20_000));
                        total += cents * i128::from(quantity);
                        let sku = format!("SKU-{:05}", rng.below(100_000));
                        Ok(Value::Struct(Struct::from_values(
                            self.nested[1].clone(),
                            vec![sku.into(), Value::Int32(quantity), Decimal::new(cents, 2).to_value()],
                        )?))
                    })
                    .collect::<Result<Vec<Value>>>()?;
                let mut attributes = std::collections::BTreeMap::new();
                attributes.insert(Value::from("channel"), Value::from(rng.pick(&["web", "mobile", "store"])));
                if rng.below(2) == 0 {
                    attributes.insert(Value::from("gift"), Value::from("true"));
                }
                let coupon = if rng.below(5) == 0 { Value::from(format!("SAVE{}", 5 * (1 + rng.below(4)))) } else { Value::Null };
                vec![
                    Value::Int64(id),
                    Value::Int64(at),
                    Value::Struct(customer),
                    Value::Array(items),
                    Value::Map(attributes),
                    coupon,
                    Decimal::new(total, 2).to_value(),
                ]
            }
        };
        let value = Struct::from_values(self.value.clone(), fields)?;
        let key_field = self.quickstart.key_field();
        let key = value.get(key_field).cloned().unwrap_or_default();
        let key_schema = self.value.field_named(key_field).map_or_else(Schema::string, |field| field.schema.clone());
        Ok(Sample { key, key_schema, value: Value::Struct(value), value_schema: (*self.value).clone() })
    }
}

/// SplitMix64 over (seed, task, sequence): the same numbers for the same record, always.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64, task: u32, n: u64) -> Rng {
        let mut rng = Rng(seed ^ (u64::from(task) << 48) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound`.
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}
