// A JVM workload: MIB of Java heap in 64 KiB arrays, every byte written; prints "ready" and
// waits for stdin to close. Run as a single-file source: java Alloc.java MIB.
public class Alloc {
  static byte[][] keep;
  public static void main(String[] args) throws Exception {
    int mib = Integer.parseInt(args[0]);
    keep = new byte[mib * 16][];
    for (int i = 0; i < keep.length; i++) {
      keep[i] = new byte[64 << 10];
      java.util.Arrays.fill(keep[i], (byte) 1);
    }
    System.out.println("ready");
    System.out.flush();
    while (System.in.read() >= 0) {}
  }
}
