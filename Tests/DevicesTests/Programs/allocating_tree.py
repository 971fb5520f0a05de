"""A two-process tree whose grandchild allocates memory on command, for the host probe tests.

The root starts a child and relays commands from its standard input to it. The child answers on
the shared standard output, so the test synchronises on what it prints:

    child-ready <pid>      the child runs and holds nothing notable yet
    alloc <MiB>  ->  allocated <MiB>   the child now holds that much more, every page written
    free         ->  freed             the allocation is released
    (end of input)         both exit
"""
import subprocess
import sys

CHILD = r"""
import sys, os
held = []
print("child-ready", os.getpid(), flush=True)
for line in sys.stdin:
    words = line.split()
    if words[0] == "alloc":
        size = int(words[1]) * 1024 * 1024
        # bytes(n) would map zero pages lazily; multiplying writes every byte, so every page is resident.
        held.append(b"\x01" * size)
        print("allocated", words[1], flush=True)
    elif words[0] == "free":
        held.clear()
        print("freed", flush=True)
"""

child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, text=True)
for line in sys.stdin:
    child.stdin.write(line)
    child.stdin.flush()
child.stdin.close()
sys.exit(child.wait())
