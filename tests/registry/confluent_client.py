"""Confluent's own Python client (confluent-kafka, from PyPI) against the worker's schema
registry: registration, lookups, compatibility, deletes, and Avro and JSON Schema
serializers that register their schemas and deserializers that find them again by the id in
the message. Run by .ci/registry with the registry's two URLs: the root of
--schema-registry-addr and /registry on the REST listener."""

import http.server
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

ORDER_V1 = {"type": "record", "name": "Order", "namespace": "shop", "fields": [{"name": "id", "type": "long"}]}
ORDER_V2 = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [{"name": "id", "type": "long"}, {"name": "note", "type": ["null", "string"], "default": None}],
}
BREAKING = {"type": "record", "name": "Order", "namespace": "shop", "fields": [{"name": "id", "type": "string"}]}


def expect(condition, what):
    if not condition:
        raise AssertionError(what)
    print("ok:", what)


def refused(call, code):
    try:
        call()
    except SchemaRegistryError as error:
        return error.error_code == code
    return False


def main(root_url, prefixed_url):
    root = SchemaRegistryClient({"url": root_url})
    prefixed = SchemaRegistryClient({"url": prefixed_url})

    first = root.register_schema("orders-value", Schema(json.dumps(ORDER_V1), "AVRO"))
    expect(prefixed.register_schema("orders-value", Schema(json.dumps(ORDER_V1), "AVRO")) == first, "registering again gives the same id")
    second = prefixed.register_schema("orders-value", Schema(json.dumps(ORDER_V2), "AVRO"))
    expect(second != first, "an evolution gets a new id")
    latest = root.get_latest_version("orders-value")
    expect((latest.version, latest.schema_id) == (2, second), "latest is version 2")
    expect(json.loads(prefixed.get_schema(first).schema_str) == ORDER_V1, "a schema is found by id")
    found = root.lookup_schema("orders-value", Schema(json.dumps(ORDER_V1), "AVRO"))
    expect(found.version == 1, "lookup finds version 1")
    expect(root.get_subjects() == ["orders-value"], "one subject")
    expect(root.get_versions("orders-value") == [1, 2], "two versions")
    expect(not root.test_compatibility("orders-value", Schema(json.dumps(BREAKING), "AVRO")), "a type change is incompatible")
    expect(refused(lambda: root.register_schema("orders-value", Schema(json.dumps(BREAKING), "AVRO")), 409), "and refused with 409")
    root.set_compatibility("orders-value", "NONE")
    expect(root.get_compatibility("orders-value") == "NONE", "the subject's level reads back")
    expect(refused(lambda: root.get_version("orders-value", 9), 40402), "a missing version is 40402")
    expect(refused(lambda: root.get_schema(424242), 40403), "a missing id is 40403")

    # Serializers register their schemas (auto.register.schemas); deserializers read the id
    # from the message and fetch the schema from the registry.
    order = {"id": 7, "note": "gift"}
    avro_out = AvroSerializer(prefixed, json.dumps(ORDER_V2))
    context = SerializationContext("payments", MessageField.VALUE)
    body = avro_out(order, context)
    expect(body[0] == 0 and int.from_bytes(body[1:5], "big") == prefixed.get_latest_version("payments-value").schema_id, "Avro wire format: magic byte and schema id")
    expect(AvroDeserializer(root)(body, context) == order, "an Avro message decodes through the registry")

    event_schema = {
        "type": "object",
        "title": "Event",
        "properties": {"kind": {"type": "string"}, "count": {"type": "integer"}},
        "additionalProperties": False,
    }
    json_out = JSONSerializer(json.dumps(event_schema), root)
    context = SerializationContext("events", MessageField.VALUE)
    body = json_out({"kind": "click", "count": 3}, context)
    expect(root.get_latest_version("events-value").schema.schema_type == "JSON", "the JSON serializer registered a JSON schema")
    expect(JSONDeserializer(None, schema_registry_client=prefixed)(body, context) == {"kind": "click", "count": 3}, "a JSON Schema message decodes through the registry")

    expect(root.delete_subject("payments-value") == [1], "a soft delete lists the versions")
    expect(root.delete_subject("payments-value", permanent=True) == [1], "then a permanent one")
    expect("payments-value" not in prefixed.get_subjects(), "the subject is gone")
    print("confluent-kafka", __import__("confluent_kafka").version(), "passed against", root_url, "and", prefixed_url)


def psql(sql):
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-q", "-c", sql], check=True)


def rest(base, method, path, body=None):
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        raise AssertionError(f"{method} {path}: {error.code} {error.read().decode()}") from None


def worker_messages_decode(rest_url, registry_url):
    """Rows of a PostgreSQL table go through jdbc-source with value.converter=avro (the
    worker's own registry) into RocketMQ; http-sink with the ByteArray converter posts each
    message's bytes as they are to a server here, and Confluent's AvroDeserializer decodes them
    with the schema it fetches by the id in the message."""
    bodies = []

    class Capture(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    table = "ci_avro_orders"
    psql(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id SERIAL PRIMARY KEY, qty INT NOT NULL, note TEXT);"
         f"INSERT INTO {table} (qty, note) VALUES (1, 'one'), (2, NULL), (3, 'three');")
    rest(rest_url, "POST", "/connectors", {"name": "ci-avro-orders", "config": {
        "connector.class": "jdbc-source", "connection.url": "postgres://postgres@127.0.0.1:5432/test", "mode": "incrementing",
        "incrementing.column.name": "id", "table.whitelist": table, "topic.prefix": "ci-", "value.converter": "avro"}})
    rest(rest_url, "POST", "/connectors", {"name": "ci-avro-capture", "config": {
        "connector.class": "http-sink", "topics": f"ci-{table}", "http.api.url": f"http://127.0.0.1:{server.server_port}/",
        "value.converter": "ByteArrayConverter", "request.body.format": "string", "batch.max.size": 1}})
    deadline = time.time() + 120
    while len(bodies) < 3 and time.time() < deadline:
        time.sleep(0.2)
    expect(len(bodies) == 3, "three message bodies captured from the worker")
    deserializer = AvroDeserializer(SchemaRegistryClient({"url": registry_url}))
    context = SerializationContext(f"ci-{table}", MessageField.VALUE)
    rows = sorted((deserializer(body, context) for body in bodies), key=lambda row: row["id"])
    expected = [{"id": 1, "qty": 1, "note": "one"}, {"id": 2, "qty": 2, "note": None}, {"id": 3, "qty": 3, "note": "three"}]
    expect(rows == expected, f"the worker's Avro messages decode to the table's rows: {rows}")
    for name in ("ci-avro-orders", "ci-avro-capture"):
        rest(rest_url, "DELETE", f"/connectors/{name}")
    psql(f"DROP TABLE IF EXISTS {table}")
    server.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
    worker_messages_decode(sys.argv[3], sys.argv[1])
