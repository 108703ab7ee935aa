"""The config schemas `connect-worker plugins --json` publishes, checked with an independent
JSON Schema validator (`jsonschema` from PyPI): every example connector file's config is
valid, the text forms the worker reads ("2", "true") are valid, and a misspelled key or a
value of the wrong type is refused by the validator naming the same key the worker's own
validation (PUT /connector-plugins/<class>/config/validate) names.

The connector configs the README posts (`-d '{"name": ..., "config": {...}}'`) must be valid
too (the validator only: their databases and paths are the reader's).

Usage: validate_examples.py <connect-worker binary> <worker REST URL> <README> <connector file>...
"""

import copy
import json
import re
import subprocess
import sys
import urllib.request

import jsonschema


def worker_errors(rest, config):
    """The keys the worker's validation reports errors for."""
    request = urllib.request.Request(
        f"{rest}/connector-plugins/{config['connector.class']}/config/validate",
        data=json.dumps(config).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        answer = json.load(response)
    return {c["value"]["name"] for c in answer["configs"] if c["value"]["errors"]}


def validator_errors(schema, config):
    """The keys the JSON Schema validator refuses, each with its message."""
    keys = {}
    for error in jsonschema.Draft202012Validator(schema).iter_errors(config):
        if error.path:
            keys[error.path[0]] = error.message
        elif error.validator == "additionalProperties":
            for key in config:
                if f"'{key}'" in error.message:
                    keys[key] = error.message
        elif error.validator == "required":
            keys[error.message.split("'")[1]] = error.message
    return keys


def main():
    binary, rest, readme, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    plugins = json.loads(subprocess.run([binary, "plugins", "--json"], check=True, capture_output=True).stdout)
    schemas = {}
    for plugin in plugins:
        jsonschema.Draft202012Validator.check_schema(plugin["config_schema"])
        for name in [plugin["name"], *plugin["aliases"]]:
            schemas[name] = plugin["config_schema"]
    print(f"{len(plugins)} plugin schemas are valid JSON Schemas (draft 2020-12)")
    with open(readme) as file:
        bodies = [json.loads(body) for body in re.findall(r"-d '(\{.*?\})'", file.read(), re.S)]
    configs = [body["config"] for body in bodies if isinstance(body.get("config"), dict) and "connector.class" in body["config"]]
    for config in configs:
        refused = validator_errors(schemas[config["connector.class"]], config)
        assert not refused, f"{readme}: the {config['connector.class']} config {config}: {refused}"
    print(f"{readme}: {len(configs)} connector configs valid ({', '.join(sorted({c['connector.class'] for c in configs}))})")
    for path in files:
        with open(path) as file:
            connector = json.load(file)
        # The config as the REST API takes it: its name inside.
        config = dict(connector["config"], name=connector["name"])
        schema = schemas[config["connector.class"]]
        assert not validator_errors(schema, config), f"{path}: {validator_errors(schema, config)}"
        assert not worker_errors(rest, config), f"{path}: the worker refuses it: {worker_errors(rest, config)}"

        as_text = dict(config, **{"tasks.max": "1"})
        assert not validator_errors(schema, as_text), f"{path}: tasks.max as text: {validator_errors(schema, as_text)}"

        own = next(k for k in config if k in schema["properties"] and not schema["properties"][k].get("x-worker-key"))
        misspelled = copy.deepcopy(config)
        misspelled[own[:-1] + own[-1] * 2] = misspelled.pop(own)
        typo = own[:-1] + own[-1] * 2
        refused, named = validator_errors(schema, misspelled), worker_errors(rest, misspelled)
        assert typo in refused and typo in named, f"{path}: {typo}: validator {refused}, worker {named}"

        wrong_type = dict(config, **{"tasks.max": "two"})
        refused, named = validator_errors(schema, wrong_type), worker_errors(rest, wrong_type)
        assert set(refused) == set(named) == {"tasks.max"}, f"{path}: tasks.max=two: validator {refused}, worker {named}"
        print(f"{path}: valid; {typo} and tasks.max=\"two\" refused by both, naming the same key")


main()
