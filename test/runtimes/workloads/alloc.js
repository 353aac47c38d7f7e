// A node workload: `alloc.js v8 MIB` fills the V8 heap with small objects; `alloc.js buffer
// MIB` holds Buffers (backing stores malloc'd outside the V8 heap). Prints "ready" and waits
// for stdin to close.
const [mode, mib] = [process.argv[2], Number(process.argv[3])];
const keep = [];
if (mode === 'buffer') for (let i = 0; i < mib / 8; i++) keep.push(Buffer.alloc(8 << 20, 1));
else for (let i = 0; i < (mib << 20) / 64; i++) keep.push({ a: i, b: i + 1, c: null });
process.stdout.write('ready\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
