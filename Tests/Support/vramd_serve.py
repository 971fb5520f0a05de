"""Starting `vramd serve` from the end-to-end scripts and benchmarks, and the quickstart config
they share."""
import json
import os
import subprocess


def serve(vramd, config, directory, name="vramd"):
    """Writes `config` to DIRECTORY/vramd.yaml (as JSON, which vramd's YAML reader takes as it is)
    and starts `vramd serve` on it, its log in DIRECTORY/vramd.log. Returns the process and the URL
    it listens on, once it does; a vramd that does not start is stopped and the script ends."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "vramd.yaml")
    with open(path, "w") as f:
        json.dump(config, f)
    log = os.path.join(directory, "vramd.log")
    proc = subprocess.Popen([vramd, "serve", "--config", path], stdout=subprocess.PIPE,
                            stderr=open(log, "w"), text=True)
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise SystemExit(f"{name}: vramd did not start: {line!r} (see {log})")
    return proc, line.strip().split()[-1]


def quickstart_config(quickstart, state_dir, capacity=None):
    """examples/quickstart.yaml as it is, but on a free port, with its state in `state_dir` (no
    footprints measured by an earlier run), absolute paths in place of ${CONFIG_DIR} and the
    relative GGUF, and optionally another host capacity."""
    import yaml  # only the scripts that use the quickstart have it

    with open(quickstart) as f:
        config = yaml.safe_load(f)
    config["listen"] = "127.0.0.1:0"
    config["state_dir"] = state_dir
    if capacity:
        config["devices"][0]["capacity"] = capacity
    examples = os.path.dirname(os.path.abspath(quickstart))
    for model in config["models"].values():
        memory = model.get("memory")
        if isinstance(memory, dict) and not memory["gguf"].startswith("/"):
            memory["gguf"] = os.path.join(examples, memory["gguf"])
        model["backend"]["command"] = [part.replace("${CONFIG_DIR}", examples) for part in model["backend"]["command"]]
    return config
