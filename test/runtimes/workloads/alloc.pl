# A runtime hugespan has no rules for: perl, holding one MIB-long string (perl's malloc is
# glibc's here, so the string is a glibc mmapped chunk). Prints "ready", waits for stdin to close.
my $n = shift;
my $x = "a" x ($n << 20);
$| = 1;
print "ready\n";
1 while <STDIN>;
