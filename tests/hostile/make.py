#!/usr/bin/env python3
"""tests/hostile/make.py KIND FILE [ARG] [-- KIND FILE [ARG]]... -- write hostile spool files for
61-hostile-corpus.t (several per run: Python starts slowly).

Every KIND starts from a real spool file the MTA wrote (a copy), so that everything but the
one damage is as the MTA makes it.

  exim-hdrlen H how             last header's length: 'eof' exactly to the end (valid),
                                'eof+1' one past it, 'huge' more digits than any integer
  exim-rcpts H N                N recipients (Exim refuses more than 16384)
  exim-nul-sender H             a NUL inside the sender line
  exim-utf8 H                   invalid UTF-8 in the sender, a recipient and a header
  exim-bigheaders H N           N header lines of 1 MB each
  exim-deeptree H N             a non-recipients tree N nodes deep (a right-leaning chain)
  exim-journal J N              a -J of N addresses
  exim-time H T                 arrival time T (line 4)
  pf-rcpts F N                  N more recipient records (after the content, as sendmail -t)
  pf-chain F N                  N pointer records, each to the next, before the end record
  pf-loop2 F                    two pointer records pointing at each other
  pf-bigrec F                   a 1 MB recipient address
  pf-utf8 F                     NUL and invalid UTF-8 in the sender and a recipient
  pf-hugesize F                 a size record of 2^63-1 bytes, the content left out
  pf-lenbits F                  a record length of 6 bytes (more bits than Postfix allows)
  qm-rcpts FILE N               a channel file of N T records
  qm-bigsender FILE             an F record of 1 MB
  qm-utf8 FILE                  invalid UTF-8 and a NUL-less last record
"""
import sys

def rd(p): return open(p, 'rb').read()
def wr(p, b): open(p, 'wb').write(b)

def exim_split(b):
    """-H bytes -> (envelope up to and including the blank line, header section)"""
    i = b.index(b'\n\n') + 2
    # the blank line ending the recipients is the first empty line after the recipient list;
    # real -H files have no empty line before it
    return b[:i], b[i:]

def exim_rcpts(env):
    lines = env.split(b'\n')
    # recipient count: the line after "XX" or after the tree; find the line that is a count
    # followed by exactly that many lines before the blank line
    blank = lines.index(b'', 4)
    for k in range(4, blank):
        if lines[k].isdigit() and k + 1 + int(lines[k]) == blank:
            return lines, k, blank
    raise SystemExit('no recipient count found')

def pf_records(b):
    out, i = [], 0
    while i < len(b):
        t = b[i]; i += 1; l = s = 0
        while True:
            c = b[i]; i += 1; l |= (c & 0x7f) << s; s += 7
            if not c & 0x80: break
        out.append((t, b[i:i + l])); i += l
    return out

def pf_len(n):
    o = bytearray()
    while True:
        c = n & 0x7f; n >>= 7
        if n: o.append(c | 0x80)
        else: o.append(c); return bytes(o)

def pf_rec(t, data): return bytes([t]) + pf_len(len(data)) + data

def pf_join(recs): return b''.join(pf_rec(t, d) for t, d in recs)

def pf_before_end(b, extra):
    """insert raw bytes right before the final 'E' record (offsets before it unchanged)"""
    assert b[-2:] == b'E\x00'
    return b[:-2] + extra + b'E\x00'

def make(kind, path, arg):
    if kind == 'exim-hdrlen':
        env, hdr = exim_split(rd(path))
        body = b'X-Edge: ' + b'e' * 50 + b'\n'
        n = {'eof': len(body), 'eof+1': len(body) + 1, 'huge': 10 ** 30}[arg]
        wr(path, env + hdr + (b'%03d  ' % n) + body)
    elif kind == 'exim-rcpts':
        env, hdr = exim_split(rd(path))
        lines, k, blank = exim_rcpts(env)
        n = int(arg)
        rc = [b'r%d@many.example' % i for i in range(n)]
        wr(path, b'\n'.join(lines[:k] + [b'%d' % n] + rc) + b'\n\n' + hdr)
    elif kind == 'exim-nul-sender':
        b = bytearray(rd(path)); lines = b.split(b'\n')
        lines[2] = lines[2][:3] + b'\0' + lines[2][3:]
        wr(path, b'\n'.join(lines))
    elif kind == 'exim-utf8':
        env, hdr = exim_split(rd(path))
        lines, k, blank = exim_rcpts(env)
        lines[2] = b'<caf\xc3\x28\xff@bad-utf8.example>'
        lines[k + 1] = b'\xed\xa0\x80\xf8\x88\x80\x80\x80@bad-utf8.example'
        h = b'X-Bad: \xc0\xaf \xe2\x82 \xff\xfe\n'
        wr(path, b'\n'.join(lines) + hdr + b'%03d  ' % len(h) + h)
    elif kind == 'exim-bigheaders':
        b = rd(path)
        for i in range(int(arg)):
            h = b'X-Big-%d: ' % i + b'y' * (1 << 20) + b'\n'
            b += b'%03d  ' % len(h) + h
        wr(path, b)
    elif kind == 'exim-deeptree':
        env, hdr = exim_split(rd(path))
        lines = env.split(b'\n')
        t = lines.index(b'XX')
        n = int(arg)
        tree = [b'NY d%d@tree.example' % i for i in range(n - 1)] + [b'NN d%d@tree.example' % (n - 1)]
        wr(path, b'\n'.join(lines[:t] + tree + lines[t + 1:]) + hdr)
    elif kind == 'exim-journal':
        wr(path, b''.join(b'j%d@journal.example\n' % i for i in range(int(arg))))
    elif kind == 'pf-rcpts':
        b = rd(path)
        wr(path, pf_before_end(b, b''.join(pf_rec(ord('R'), b'r%d@many.example' % i)
                                           for i in range(int(arg)))))
    elif kind == 'pf-chain':
        b = rd(path)
        n = int(arg)
        base = len(b) - 2
        # each pointer record: 'p', length 20, 20 digits: the offset of the next one
        size = len(pf_rec(ord('p'), b'0' * 20))
        chain = b''
        for i in range(n):
            to = base + (i + 1) * size
            chain += pf_rec(ord('p'), str(to).rjust(20).encode())
        wr(path, pf_before_end(b, chain))
    elif kind == 'pf-loop2':
        b = rd(path)
        base = len(b) - 2
        size = len(pf_rec(ord('p'), b'0' * 20))
        a = pf_rec(ord('p'), str(base + size).rjust(20).encode())
        c = pf_rec(ord('p'), str(base).rjust(20).encode())
        wr(path, pf_before_end(b, a + c))
    elif kind == 'pf-bigrec':
        b = rd(path)
        wr(path, pf_before_end(b, pf_rec(ord('R'), b'big' + b'x' * (1 << 20) + b'@big.example')))
    elif kind == 'pf-utf8':
        recs = pf_records(rd(path))
        out = []
        for t, d in recs:
            if t == ord('S'):   # same length: the content offset in the size record stays right
                d = (b'caf\xc3\x28\xff\x00h@x' + b'y' * len(d))[:len(d)]
            out.append((t, d))
        b = pf_join(out)
        wr(path, pf_before_end(b, pf_rec(ord('R'), b'\xed\xa0\x80\xf8\x88\x80\x80\x80@bad-utf8.example')))
    elif kind == 'pf-hugesize':
        # a size record claiming 2^63-1 bytes, and no content for it to be checked against
        recs, out, skip = pf_records(rd(path)), [], False
        for t, d in recs:
            if t == ord('M'):
                skip = True
            if not skip:
                if t == ord('C'):
                    d = b'9223372036854775807' + d[15:]
                out.append((t, d))
            if t == ord('X'):
                skip = False
        wr(path, pf_join(out))
    elif kind == 'exim-time':
        b = rd(path).split(b'\n')
        b[3] = arg.encode() + b' 0'
        wr(path, b'\n'.join(b))
    elif kind == 'pf-lenbits':
        b = rd(path)
        wr(path, pf_before_end(b, b'R\xff\xff\xff\xff\xff\x01'))
    elif kind == 'qm-rcpts':
        wr(path, b''.join(b'Tr%d@many.example\0' % i for i in range(int(arg))))
    elif kind == 'qm-bigsender':
        wr(path, b'F' + b's' * (1 << 20) + b'@big.example\0')
    elif kind == 'qm-utf8':
        wr(path, b'T\xed\xa0\x80\xf8\x88\x80\x80\x80@bad-utf8.example\0Tcaf\xc3\x28\xff@x.example')
    else:
        raise SystemExit('unknown kind ' + kind)


job = []
for a in sys.argv[1:] + ['--']:
    if a == '--':
        if job:
            make(job[0], job[1], job[2] if len(job) > 2 else None)
        job = []
    else:
        job.append(a)
