#!/usr/bin/perl
# smtp-send.pl - one SMTP transaction with the lab's smtpd on 127.0.0.1 (perl-base only).
# usage: smtp-send.pl PORT SENDER 'MAIL-PARAMS' RCPT['|RCPT-PARAMS']... < message
#   MAIL-PARAMS / RCPT-PARAMS: space-separated ESMTP parameters, e.g. 'RET=HDRS ENVID=x'
#   or 'NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b'. Addresses and the message are sent as raw
#   bytes (SMTPUTF8 works); LF line ends become CRLF; lines starting with '.' are stuffed.
# Prints the reply to the end of DATA ("250 2.0.0 Ok: queued as ID"); exits 1 on any failure
# (a refused recipient is reported on stderr and skipped, as a real client would).
use strict;
use warnings;
use IO::Socket::INET;

my ($port, $sender, $mparams, @rcpts) = @ARGV;
die "usage: $0 PORT SENDER 'MAIL-PARAMS' RCPT[|PARAMS]... < message\n" unless @rcpts;
binmode STDIN;
my $msg = do { local $/; <STDIN> };
$msg =~ s/\r\n/\n/g;
$msg .= "\n" unless $msg =~ /\n\z/;
$msg =~ s/^\./../mg;
$msg =~ s/\n/\r\n/g;

my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp',
                              Timeout => 60) or die "$0: connect 127.0.0.1:$port: $!\n";
binmode $s;
$s->autoflush(1);

sub reply {             # read a (multi-line) reply: returns (code, full text)
    my $text = '';
    while (defined(my $l = <$s>)) {
        $text .= $l;
        return (substr($l, 0, 3), $text) if $l =~ /^\d{3} /;
    }
    die "$0: connection closed by server\n";
}
sub cmd {
    my ($line, @ok) = @_;
    print $s "$line\r\n";
    my ($code, $text) = reply();
    return ($code, $text) if grep { $_ == $code } @ok;
    die "$0: '$line' -> $text";
}

reply();                                    # greeting
cmd('EHLO client.lab.test', 250);
cmd(join(' ', "MAIL FROM:<$sender>", grep { length } split(/\s+/, $mparams)), 250);
my $ok = 0;
for my $r (@rcpts) {
    my ($addr, $params) = split(/\|/, $r, 2);
    my ($code, $text) = cmd(join(' ', "RCPT TO:<$addr>", grep { length } split(/\s+/, $params // '')),
                            250, 251, 450, 550, 553, 554);
    if ($code =~ /^25/) { $ok++ } else { print STDERR "$0: recipient $addr refused: $text" }
}
die "$0: no recipient accepted\n" unless $ok;
cmd('DATA', 354);
print $s $msg, ".\r\n";
my ($code, $text) = reply();
die "$0: end of DATA -> $text" unless $code == 250;
print $text;
cmd('QUIT', 221);
