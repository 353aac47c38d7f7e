# A CPython workload: about MIB of small objects (pymalloc's arenas): a chain of 2-tuples
# holding fresh ints, no big arrays; prints "ready" and waits for stdin to close.
import sys
mib = int(sys.argv[1])
x = None
for i in range(mib * 1024 * 1024 // 88):
    x = (x, i + 1000)
print("ready", flush=True)
sys.stdin.read()
