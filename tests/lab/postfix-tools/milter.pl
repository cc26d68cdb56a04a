#!/usr/bin/perl
# milter.pl - a small Sendmail milter (protocol 6) on 127.0.0.1:PORT for the Postfix lab
# (perl-base only). Its only purpose is to make cleanup(8) edit queue files in place, which is
# how real queue files get 'p' pointer records, '/' canceled recipients and records after 'E'.
# For every message it:
#   - inserts "X-Lab-Milter-Top" as the first header            (SMFIR_INSHEADER 'i')
#   - appends "X-Lab-Milter"                                      (SMFIR_ADDHEADER 'h')
#   - rewrites the first Subject: to a longer one                 (SMFIR_CHGHEADER 'm')
#   - adds the recipient milter-added@remote.example              (SMFIR_ADDRCPT   '+')
#   - removes recipients whose local part starts with "cancel"    (SMFIR_DELRCPT   '-')
#   - replaces the body if a recipient starts with "newbody"      (SMFIR_REPLBODY  'b')
#   - changes the sender if it starts with "chg"                  (SMFIR_CHGFROM   'e')
#   - quarantines (Postfix: hold) if the Subject contains "quarantine"  (SMFIR_QUARANTINE 'q')
# usage: milter.pl PORT PIDFILE      (PIDFILE is written once the socket listens)
# One connection at a time: the lab submits sequentially.
use strict;
use warnings;
use IO::Socket::INET;

my ($port, $pidfile) = @ARGV;
die "usage: $0 PORT PIDFILE\n" unless $pidfile;
my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Proto => 'tcp',
                              Listen => 16, ReuseAddr => 1) or die "$0: listen 127.0.0.1:$port: $!\n";
open(my $fh, '>', "$pidfile.tmp") or die "$0: $pidfile: $!\n";
print $fh "$$\n"; close $fh; rename("$pidfile.tmp", $pidfile) or die "$0: $pidfile: $!\n";

# SMFIF_ADDHDRS|CHGBODY|ADDRCPT|DELRCPT|CHGHDRS|QUARANTINE|CHGFROM
my $ACTIONS = 0x01 | 0x02 | 0x04 | 0x08 | 0x10 | 0x20 | 0x40;

sub readn {
    my ($c, $n) = @_;
    my $buf = '';
    while (length($buf) < $n) {
        my $got = sysread($c, $buf, $n - length($buf), length($buf));
        return undef unless $got;
    }
    return $buf;
}
sub send_pkt {
    my ($c, $cmd, $data) = @_;
    $data //= '';
    my $pkt = pack('N', length($data) + 1) . $cmd . $data;
    syswrite($c, $pkt) == length($pkt) or die "$0: write: $!\n";
}

while (my $c = $l->accept) {
    binmode $c;
    my ($sender, $subject, @rcpts) = ('');
    while (defined(my $hdr = readn($c, 4))) {
        my $len = unpack('N', $hdr);
        last if $len < 1 || $len > 1 << 24;
        my $pkt = readn($c, $len);
        last unless defined $pkt;
        my ($cmd, $data) = (substr($pkt, 0, 1), substr($pkt, 1));
        if ($cmd eq 'O') {                              # option negotiation
            my (undef, $act) = unpack('NN', $data);
            send_pkt($c, 'O', pack('NNN', 6, $ACTIONS & $act, 0));
        } elsif ($cmd eq 'D') {                         # macros: no reply
        } elsif ($cmd eq 'A' || $cmd eq 'K') {          # abort / new connection: no reply
            $sender = ''; undef $subject; @rcpts = ();
        } elsif ($cmd eq 'Q') {
            last;
        } elsif ($cmd eq 'M') {
            ($sender) = split(/\0/, $data); $sender =~ s/^<|>$//g;
            send_pkt($c, 'c');
        } elsif ($cmd eq 'R') {
            my ($r) = split(/\0/, $data); push @rcpts, $r;
            send_pkt($c, 'c');
        } elsif ($cmd eq 'L') {
            my ($name, $value) = split(/\0/, $data, 3);
            $subject //= $value if lc($name) eq 'subject';
            send_pkt($c, 'c');
        } elsif ($cmd eq 'E') {                         # end of message: the edits
            send_pkt($c, 'i', pack('N', 0) . "X-Lab-Milter-Top\0inserted before all other headers\0");
            send_pkt($c, 'h', "X-Lab-Milter\0edited by tests/lab/postfix-tools/milter.pl\0");
            send_pkt($c, 'm', pack('N', 1) . "Subject\0[lab-milter] " . ($subject // '') .
                     " (subject rewritten by the milter, now longer than before)\0")
                if defined $subject;
            send_pkt($c, '+', "<milter-added\@remote.example>\0");
            for my $r (@rcpts) {
                (my $a = $r) =~ s/^<|>$//g;
                send_pkt($c, '-', "$r\0") if $a =~ /^cancel/i;
            }
            if (grep { /^<?newbody/i } @rcpts) {
                send_pkt($c, 'b', "This body was replaced by the lab milter.\r\n" .
                         "It is shorter than the original.\r\n");
            }
            send_pkt($c, 'e', "<rewritten-sender\@example.org>\0") if $sender =~ /^chg/i;
            send_pkt($c, 'q', "lab milter quarantine\0") if ($subject // '') =~ /quarantine/i;
            send_pkt($c, 'a');
            undef $subject; @rcpts = ();
        } else {                                        # C H T N B U ...: continue
            send_pkt($c, 'c');
        }
    }
    close $c;
}
