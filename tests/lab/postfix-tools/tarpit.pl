#!/usr/bin/perl
# tarpit.pl - accept TCP connections on 127.0.0.1:PORT and never answer: Postfix's smtp(8)
# then waits for the greeting (smtp_helo_timeout, 300 s) and the message stays in active/.
# usage: tarpit.pl PORT PIDFILE      (PIDFILE is written once the socket listens)
use strict;
use warnings;
use IO::Socket::INET;

my ($port, $pidfile) = @ARGV;
die "usage: $0 PORT PIDFILE\n" unless $pidfile;
my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Proto => 'tcp',
                              Listen => 64, ReuseAddr => 1) or die "$0: listen 127.0.0.1:$port: $!\n";
open(my $fh, '>', "$pidfile.tmp") or die "$0: $pidfile: $!\n";
print $fh "$$\n"; close $fh; rename("$pidfile.tmp", $pidfile) or die "$0: $pidfile: $!\n";
my @held;
while (my $c = $l->accept) { push @held, $c }   # keep every connection open, silently
