// Command yamux-peer is the Go side of TcpChan's yamux interop tests: a real
// hashicorp/yamux session (DefaultConfig) over loopback TCP, as client or server,
// running one scenario per process and printing machine-readable lines.
//
// Build (GOPATH mode, from Debian's golang-github-hashicorp-yamux-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o yamux-peer main.go
//
// Output on stdout, one line each, fields as key=value; a `reason=` field, when
// present, is last and runs to the end of the line:
//
//	READY addr=127.0.0.1:PORT             the server listens (printed first)
//	EVENT name=... key=value ...           something observed on the way
//	RESULT scenario=S role=R status=ok|fail [key=value ...] [reason=...]
//
// RESULT is the last line; the exit code is 0 for ok, 1 for fail, 2 for a timeout.
// yamux's own log goes to stderr.
//
// Each scenario has an active side, which opens the streams, and a passive side,
// which accepts them (-active; by default the client is active). See usage below.
// Every session uses yamux.DefaultConfig(), except: -keepalive sets its
// KeepAliveInterval, and the opener of the backlog scenario may keep more opens
// unacknowledged than the acceptor's backlog.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

const usage = `yamux-peer -role client|server -scenario NAME [flags]

Scenarios (A = active side, opens streams; P = passive side, accepts them):
  echo       A opens -streams streams at once, each: u64 length + pattern bytes;
             P echoes exactly that many bytes and half-closes; A checks SHA-256.
  halfclose  A opens two streams. 'C': A writes 'C' + -size bytes and half-closes
             first; P reads to EOF, checks, answers -size bytes, half-closes.
             'S': A writes 'S'; P answers -size bytes and half-closes first;
             A reads to EOF, checks, writes -size bytes and half-closes; P checks.
  reset      the Go side is the victim: A opens a stream and writes 'W' (P: reads
             'W'), then writes until the peer resets the stream; ok when Write and
             Read fail with yamux's "connection reset".
  backlog    P never accepts. A opens AcceptBacklog+1 (257) streams; ok when the
             last one is reset by P (Go resets opens past its accept backlog).
  ping       A pings P -pings times, then opens a stream; P pings A -pings times
             on it, writes 'K' and half-closes.
  goaway     A opens -streams streams (u64 length + -size pattern bytes, echoed as
             in echo). -goaway-by passive: P sends go-away once it has every
             stream's length, then echoes; A checks a new open fails. -goaway-by
             active: A sends go-away after the lengths, before the data; P checks
             a new open fails. Every stream in flight completes and is checked.
  flood      A opens one stream; the -flood-writer side (active|passive) writes
             -bytes pattern bytes; the other reads them slowly (-read-chunk bytes
             every -read-delay), checks SHA-256, answers 'K'; both half-close.
  pattern    prints the SHA-256 of -bytes pattern bytes of key -key (no network).
  golden     writes the frames Go's yamux sends in a scripted conversation to
             -out (no network: in-memory pipes).

Pattern bytes: xorshift32 words, little-endian, state = key*2654435761+1 (or 1
if that is 0), each word: x ^= x<<13; x ^= x>>17; x ^= x<<5.
`

var (
	role       = flag.String("role", "", "client or server")
	addr       = flag.String("addr", "127.0.0.1:0", "server: address to listen on; client: address to connect to")
	scenario   = flag.String("scenario", "", "what to do (see usage)")
	activeFlag = flag.String("active", "", "true or false: this side opens the streams (default: the client)")
	streams    = flag.Int("streams", 100, "echo, goaway: streams to open")
	maxSize    = flag.Int("max-size", 8<<20, "echo: the largest stream")
	size       = flag.Int("size", 1<<20, "halfclose, goaway: bytes per direction per stream")
	seed       = flag.Uint("seed", 1, "echo: seed of the stream sizes and contents")
	total      = flag.Int64("bytes", 64<<20, "flood: bytes to write; reset: most bytes to write before giving up; pattern: bytes")
	key        = flag.Uint("key", 1, "pattern: the key")
	pings      = flag.Int("pings", 3, "ping: pings each way")
	goawayBy   = flag.String("goaway-by", "passive", "goaway: active or passive")
	floodWr    = flag.String("flood-writer", "active", "flood: active or passive")
	readChunk  = flag.Int("read-chunk", 64<<10, "flood: bytes per slow read")
	readDelay  = flag.Duration("read-delay", time.Millisecond, "flood: pause between slow reads")
	out        = flag.String("out", "", "golden: file to write")
	timeout    = flag.Duration("timeout", 60*time.Second, "give up (exit 2) after this long")
	keepalive  = flag.Duration("keepalive", 0, "yamux KeepAliveInterval instead of DefaultConfig's 30s (0: the default)")
)

var stdout sync.Mutex

// emit prints one line atomically.
func emit(kind string, fields ...string) {
	stdout.Lock()
	defer stdout.Unlock()
	fmt.Println(strings.Join(append([]string{kind}, fields...), " "))
}

func kv(k string, v interface{}) string { return fmt.Sprintf("%s=%v", k, v) }

func result(ok bool, fields []string, reason string) {
	status := "ok"
	if !ok {
		status = "fail"
	}
	all := append([]string{kv("scenario", *scenario), kv("role", *role), kv("status", status)}, fields...)
	if reason != "" {
		all = append(all, "reason="+reason)
	}
	emit("RESULT", all...)
	if ok {
		os.Exit(0)
	}
	os.Exit(1)
}

func fail(format string, args ...interface{}) { result(false, nil, fmt.Sprintf(format, args...)) }

func main() {
	flag.Usage = func() { fmt.Fprint(os.Stderr, usage); flag.PrintDefaults() }
	flag.Parse()
	go func() {
		time.Sleep(*timeout)
		emit("RESULT", kv("scenario", *scenario), kv("role", *role), "status=fail", "reason=timeout after "+timeout.String())
		os.Exit(2)
	}()

	switch *scenario {
	case "pattern":
		h := sha256.New()
		copyPattern(h, uint32(*key), *total)
		result(true, []string{kv("key", *key), kv("bytes", *total), kv("sha256", hex.EncodeToString(h.Sum(nil)))}, "")
	case "golden":
		if err := golden(*out); err != nil {
			fail("golden: %v", err)
		}
		result(true, []string{kv("out", *out)}, "")
	}

	session := connect()
	active := isActive()
	var ok bool
	var fields []string
	var err error
	switch *scenario {
	case "echo":
		fields, err = echo(session, active)
	case "halfclose":
		fields, err = halfClose(session, active)
	case "reset":
		fields, err = resetVictim(session, active)
	case "backlog":
		fields, err = backlog(session, active)
	case "ping":
		fields, err = ping(session, active)
	case "goaway":
		fields, err = goAway(session, active)
	case "flood":
		fields, err = flood(session, active)
	default:
		fail("unknown scenario %q", *scenario)
	}
	ok = err == nil
	reason := ""
	if err != nil {
		reason = err.Error()
	}
	fields = append([]string{kv("active", active)}, fields...)
	result(ok, fields, reason)
}

// isActive says whether this side opens the streams: -active, or else the client.
func isActive() bool {
	if *activeFlag != "" {
		return *activeFlag == "true"
	}
	return *role == "client"
}

// connect makes the one TCP connection and the yamux session over it.
func connect() *yamux.Session {
	config := yamux.DefaultConfig()
	config.LogOutput = os.Stderr
	if *keepalive > 0 {
		config.KeepAliveInterval = *keepalive
	}
	if *scenario == "backlog" && isActive() {
		// Only the opener's own limit on unacknowledged opens, so that it can send one
		// open past the acceptor's backlog; the acceptor keeps the default 256.
		config.AcceptBacklog = 4 * yamux.DefaultConfig().AcceptBacklog
	}
	var conn net.Conn
	var err error
	switch *role {
	case "server":
		listener, lerr := net.Listen("tcp", *addr)
		if lerr != nil {
			fail("listen: %v", lerr)
		}
		emit("READY", kv("addr", listener.Addr().String()))
		conn, err = listener.Accept()
		listener.Close()
		if err != nil {
			fail("accept: %v", err)
		}
		session, serr := yamux.Server(conn, config)
		if serr != nil {
			fail("yamux.Server: %v", serr)
		}
		return session
	case "client":
		conn, err = net.Dial("tcp", *addr)
		if err != nil {
			fail("dial: %v", err)
		}
		session, serr := yamux.Client(conn, config)
		if serr != nil {
			fail("yamux.Client: %v", serr)
		}
		return session
	}
	fail("-role must be client or server")
	return nil
}

// sessionEnd waits for the peer to end the session and reports why it ended.
func sessionEnd(session *yamux.Session) {
	if _, err := session.AcceptStream(); err == nil {
		emit("EVENT", "name=unexpected-stream")
		return
	}
	emit("EVENT", "name=session-closed", "reason="+closeReason(session))
}

// closeReason is why a closed session ended, as yamux keeps it: an Accept returns it
// once the session is closed, except an Accept that took a queued stream and failed to
// ack it, which returns ErrSessionShutdown; so the queue is emptied first.
func closeReason(session *yamux.Session) string {
	<-session.CloseChan()
	for i := 0; i <= 4*yamux.DefaultConfig().AcceptBacklog; i++ {
		if _, err := session.AcceptStream(); err != nil && err != yamux.ErrSessionShutdown {
			return err.Error()
		}
	}
	return yamux.ErrSessionShutdown.Error()
}

// ---- pattern bytes -------------------------------------------------------

type patternReader struct {
	state     uint32
	remaining int64
	word      [4]byte
	used      int
}

func newPattern(key uint32, n int64) *patternReader {
	state := key*2654435761 + 1
	if state == 0 {
		state = 1
	}
	return &patternReader{state: state, remaining: n, used: 4}
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.remaining == 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.remaining {
		b = b[:p.remaining]
	}
	for i := range b {
		if p.used == 4 {
			x := p.state
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			p.state = x
			binary.LittleEndian.PutUint32(p.word[:], x)
			p.used = 0
		}
		b[i] = p.word[p.used]
		p.used++
	}
	p.remaining -= int64(len(b))
	return len(b), nil
}

func copyPattern(w io.Writer, key uint32, n int64) (int64, error) {
	return io.CopyBuffer(w, newPattern(key, n), make([]byte, 64<<10))
}

func patternDigest(key uint32, n int64) string {
	h := sha256.New()
	copyPattern(h, key, n)
	return hex.EncodeToString(h.Sum(nil))
}

// readDigest reads exactly n bytes and returns their SHA-256.
func readDigest(r io.Reader, n int64) (string, error) {
	h := sha256.New()
	got, err := io.CopyN(h, r, n)
	if err != nil {
		return "", fmt.Errorf("read %d of %d bytes: %v", got, n, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// expectEOF checks that the peer half-closed: the next read ends the stream.
func expectEOF(stream *yamux.Stream) error {
	var one [1]byte
	n, err := stream.Read(one[:])
	if n != 0 || err != io.EOF {
		return fmt.Errorf("expected end of stream, got %d bytes, error %v", n, err)
	}
	return nil
}

// readAfterLocalClose reads exactly len(b) bytes from a stream this side has
// half-closed. The yamux Debian ships (2019) returns a false EOF from Read on such
// a stream whenever its buffer is momentarily empty (fixed upstream in "Allow
// half-closed reads", #131), so an EOF before the bytes are all here is retried.
func readAfterLocalClose(stream *yamux.Stream, b []byte) error {
	deadline := time.Now().Add(*timeout)
	got := 0
	for got < len(b) {
		n, err := stream.Read(b[got:])
		got += n
		if err == io.EOF && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			return fmt.Errorf("read %d of %d bytes after half-close: %v", got, len(b), err)
		}
	}
	return nil
}

func streamKey(index int) uint32 { return uint32(*seed)<<16 + uint32(index) + 1 }

// echoSizes are the stream sizes of echo: the edges first (empty, one byte, a
// header's worth, around 64 KiB and around the 256 KiB window, the largest), then
// sizes below 1 MiB from the seed.
func echoSizes(n int) []int64 {
	edges := []int64{0, 1, 12, 65535, 65536, 262143, 262144, 262145, int64(*maxSize), int64(*maxSize) - 1}
	sizes := make([]int64, n)
	random := newPattern(uint32(*seed)*7919, int64(n)*4)
	for i := range sizes {
		var word [4]byte
		io.ReadFull(random, word[:])
		if i < len(edges) {
			sizes[i] = edges[i]
		} else {
			sizes[i] = int64(binary.LittleEndian.Uint32(word[:]) % (1 << 20))
		}
	}
	return sizes
}

// ---- echo ----------------------------------------------------------------

// echoOne is the active side of one echo stream: it writes the length and the
// bytes while it reads the echo, then checks the digest and the peer's half-close.
func echoOne(stream *yamux.Stream, key uint32, n int64) error {
	writeErr := make(chan error, 1)
	go func() {
		var length [8]byte
		binary.BigEndian.PutUint64(length[:], uint64(n))
		if _, err := stream.Write(length[:]); err != nil {
			writeErr <- err
			return
		}
		_, err := copyPattern(stream, key, n)
		writeErr <- err
	}()
	got, err := readDigest(stream, n)
	if err != nil {
		return err
	}
	if err := <-writeErr; err != nil {
		return fmt.Errorf("write: %v", err)
	}
	if want := patternDigest(key, n); got != want {
		return fmt.Errorf("echo of %d bytes has SHA-256 %s, sent %s", n, got, want)
	}
	if err := expectEOF(stream); err != nil {
		return err
	}
	return stream.Close()
}

// echoServe is the passive side of one echo stream: length, then exactly that many
// bytes back, then a half-close.
func echoServe(stream *yamux.Stream) (int64, error) {
	var length [8]byte
	if _, err := io.ReadFull(stream, length[:]); err != nil {
		return 0, fmt.Errorf("read length: %v", err)
	}
	n := int64(binary.BigEndian.Uint64(length[:]))
	if copied, err := io.CopyN(stream, stream, n); err != nil {
		return copied, fmt.Errorf("echo %d of %d bytes: %v", copied, n, err)
	}
	return n, stream.Close()
}

func echo(session *yamux.Session, active bool) ([]string, error) {
	if active {
		sizes := echoSizes(*streams)
		var wg sync.WaitGroup
		errs := make([]error, len(sizes))
		var totalBytes int64
		for i, n := range sizes {
			totalBytes += n
			wg.Add(1)
			// Each goroutine opens its own stream: yamux takes the id first and queues the
			// SYN after, so concurrent opens can reach the wire out of id order.
			go func(i int, n int64) {
				defer wg.Done()
				stream, err := session.OpenStream()
				if err != nil {
					errs[i] = fmt.Errorf("open stream %d: %v", i, err)
					return
				}
				if err := echoOne(stream, streamKey(i), n); err != nil {
					errs[i] = fmt.Errorf("stream %d (id %d, %d bytes): %v", i, stream.StreamID(), n, err)
				}
			}(i, n)
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
		session.Close()
		return []string{kv("streams", len(sizes)), kv("bytes", totalBytes)}, nil
	}
	return serveStreams(session, *streams, false, func(stream *yamux.Stream) (int64, error) { return echoServe(stream) })
}

// serveStreams accepts want streams and runs serve on each; then it ends the
// session (closeAtEnd) or waits for the peer to end it.
func serveStreams(session *yamux.Session, want int, closeAtEnd bool, serve func(*yamux.Stream) (int64, error)) ([]string, error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	var totalBytes int64
	for i := 0; i < want; i++ {
		stream, err := session.AcceptStream()
		if err != nil {
			reason := closeReason(session)
			emit("EVENT", "name=session-closed", "reason="+reason)
			return nil, fmt.Errorf("accepted %d of %d streams: %s", i, want, reason)
		}
		wg.Add(1)
		go func(stream *yamux.Stream) {
			defer wg.Done()
			n, err := serve(stream)
			mu.Lock()
			defer mu.Unlock()
			totalBytes += n
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("stream id %d: %v", stream.StreamID(), err)
			}
		}(stream)
	}
	wg.Wait()
	if firstErr != nil {
		emit("EVENT", "name=stream-failed", "reason="+firstErr.Error())
		sessionEnd(session)
		return nil, firstErr
	}
	if closeAtEnd {
		session.Close()
	} else {
		sessionEnd(session)
	}
	return []string{kv("streams", want), kv("bytes", totalBytes)}, nil
}

// ---- half-close ----------------------------------------------------------

const (
	keyClientData = 101
	keyServerData = 102
)

func halfClose(session *yamux.Session, active bool) ([]string, error) {
	n := int64(*size)
	if !active {
		// The passive side checks last, so it ends the session.
		return serveStreams(session, 2, true, func(stream *yamux.Stream) (int64, error) {
			var kind [1]byte
			if _, err := io.ReadFull(stream, kind[:]); err != nil {
				return 0, err
			}
			switch kind[0] {
			case 'C': // the peer half-closed first: read to its EOF, then answer
				got, err := readDigest(stream, n)
				if err != nil {
					return 0, err
				}
				if got != patternDigest(keyClientData, n) {
					return 0, errors.New("'C': wrong bytes before the peer's half-close")
				}
				if err := expectEOF(stream); err != nil {
					return 0, fmt.Errorf("'C': %v", err)
				}
				emit("EVENT", "name=halfclose-peer-first", kv("stream", stream.StreamID()), "received_eof=true")
				if _, err := copyPattern(stream, keyServerData, n); err != nil {
					return 0, fmt.Errorf("'C': write after the peer's half-close: %v", err)
				}
				return 2 * n, stream.Close()
			case 'S': // this side half-closes first, then reads what the peer still sends
				if _, err := copyPattern(stream, keyServerData, n); err != nil {
					return 0, err
				}
				if err := stream.Close(); err != nil {
					return 0, err
				}
				b := make([]byte, n)
				if err := readAfterLocalClose(stream, b); err != nil {
					return 0, fmt.Errorf("'S': %v", err)
				}
				if digest(b) != patternDigest(keyClientData, n) {
					return 0, errors.New("'S': wrong bytes after this side's half-close")
				}
				emit("EVENT", "name=halfclose-self-first", kv("stream", stream.StreamID()), kv("received_after_fin", n))
				return 2 * n, nil
			}
			return 0, fmt.Errorf("unknown half-close kind %q", kind[0])
		})
	}

	// 'C': half-close first, then read the answer.
	c, err := session.OpenStream()
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte{'C'}); err != nil {
		return nil, err
	}
	if _, err := copyPattern(c, keyClientData, n); err != nil {
		return nil, err
	}
	if err := c.Close(); err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if err := readAfterLocalClose(c, b); err != nil {
		return nil, fmt.Errorf("'C': %v", err)
	}
	if digest(b) != patternDigest(keyServerData, n) {
		return nil, errors.New("'C': wrong answer after this side's half-close")
	}

	// 'S': the peer half-closes first; read to its EOF, then write and half-close.
	s, err := session.OpenStream()
	if err != nil {
		return nil, err
	}
	if _, err := s.Write([]byte{'S'}); err != nil {
		return nil, err
	}
	got, err := readDigest(s, n)
	if err != nil {
		return nil, fmt.Errorf("'S': %v", err)
	}
	if got != patternDigest(keyServerData, n) {
		return nil, errors.New("'S': wrong bytes before the peer's half-close")
	}
	if err := expectEOF(s); err != nil {
		return nil, fmt.Errorf("'S': %v", err)
	}
	if _, err := copyPattern(s, keyClientData, n); err != nil {
		return nil, fmt.Errorf("'S': write after the peer's half-close: %v", err)
	}
	if err := s.Close(); err != nil {
		return nil, err
	}
	// The peer checks these bytes last; it ends the session when it has them.
	<-session.CloseChan()
	return []string{kv("bytes_each_way", n)}, nil
}

// sessionEndOrClose waits until the peer has ended the session, or until the stream
// count drops to zero (both sides closed every stream), then closes it here.
func sessionEndOrClose(session *yamux.Session) {
	deadline := time.Now().Add(*timeout)
	for session.NumStreams() > 0 && !session.IsClosed() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	session.Close()
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ---- reset ---------------------------------------------------------------

const keyReset = 103

// resetVictim writes until the peer resets the stream. Go's yamux (2019 and now)
// has no call that sends a reset, so the Go side can only receive one.
func resetVictim(session *yamux.Session, active bool) ([]string, error) {
	var stream *yamux.Stream
	var err error
	if active {
		if stream, err = session.OpenStream(); err != nil {
			return nil, err
		}
		if _, err = stream.Write([]byte{'W'}); err != nil {
			return nil, err
		}
	} else {
		if stream, err = session.AcceptStream(); err != nil {
			return nil, err
		}
		var w [1]byte
		if _, err = io.ReadFull(stream, w[:]); err != nil || w[0] != 'W' {
			return nil, fmt.Errorf("expected 'W', got %q, %v", w[0], err)
		}
	}
	written, werr := copyPattern(stream, keyReset, *total)
	if werr == nil {
		return nil, fmt.Errorf("wrote all %d bytes and was never reset", written)
	}
	if werr != yamux.ErrConnectionReset {
		return nil, fmt.Errorf("write failed after %d bytes with %q, not a reset", written, werr)
	}
	var one [1]byte
	if _, rerr := stream.Read(one[:]); rerr != yamux.ErrConnectionReset {
		return nil, fmt.Errorf("read after the reset: %v, not a reset", rerr)
	}
	emit("EVENT", "name=reset-received", kv("stream", stream.StreamID()), kv("written", written))
	// The peer, which reset the stream, ends the session.
	<-session.CloseChan()
	return []string{kv("stream", stream.StreamID()), kv("written", written), "error=connection_reset"}, nil
}

// ---- backlog -------------------------------------------------------------

func backlog(session *yamux.Session, active bool) ([]string, error) {
	limit := yamux.DefaultConfig().AcceptBacklog
	if !active {
		// Never accept: the peer's opens past the backlog are reset by yamux itself.
		<-session.CloseChan()
		emit("EVENT", "name=session-closed")
		return []string{kv("pending", session.NumStreams()), kv("backlog", limit)}, nil
	}
	var last *yamux.Stream
	for i := 0; i <= limit; i++ {
		stream, err := session.OpenStream()
		if err != nil {
			return nil, fmt.Errorf("open %d: %v", i, err)
		}
		last = stream
	}
	var one [1]byte
	if _, err := last.Read(one[:]); err != yamux.ErrConnectionReset {
		return nil, fmt.Errorf("open %d (id %d) past the backlog: read gave %v, not a reset", limit+1, last.StreamID(), err)
	}
	emit("EVENT", "name=open-reset", kv("stream", last.StreamID()))
	session.Close()
	return []string{kv("opened", limit+1), kv("reset_stream", last.StreamID())}, nil
}

// ---- ping ----------------------------------------------------------------

func pingN(session *yamux.Session) error {
	for i := 0; i < *pings; i++ {
		rtt, err := session.Ping()
		if err != nil {
			return fmt.Errorf("ping %d: %v", i, err)
		}
		emit("EVENT", "name=ping", kv("n", i), kv("rtt_us", rtt.Microseconds()))
	}
	return nil
}

func ping(session *yamux.Session, active bool) ([]string, error) {
	if active {
		if err := pingN(session); err != nil {
			return nil, err
		}
		stream, err := session.OpenStream()
		if err != nil {
			return nil, err
		}
		var k [1]byte
		if _, err := io.ReadFull(stream, k[:]); err != nil || k[0] != 'K' {
			return nil, fmt.Errorf("expected 'K' after the peer's pings, got %q, %v", k[0], err)
		}
		if err := expectEOF(stream); err != nil {
			return nil, err
		}
		stream.Close()
		session.Close()
		return []string{kv("pings", *pings)}, nil
	}
	stream, err := session.AcceptStream()
	if err != nil {
		return nil, err
	}
	if err := pingN(session); err != nil {
		return nil, err
	}
	if _, err := stream.Write([]byte{'K'}); err != nil {
		return nil, err
	}
	stream.Close()
	sessionEnd(session)
	return []string{kv("pings", *pings)}, nil
}

// ---- go-away -------------------------------------------------------------

const keyGoAway = 104

func sendGoAway(session *yamux.Session) error {
	if err := session.GoAway(); err != nil {
		return err
	}
	emit("EVENT", "name=goaway-sent")
	return nil
}

// refusal checks, once, that this side can no longer open a stream: run when the
// first byte the peer sent after its go-away arrives.
type refusal struct {
	once sync.Once
	err  error
}

func newRefusal(none string) *refusal { return &refusal{err: errors.New(none)} }

func (r *refusal) check(session *yamux.Session) {
	r.once.Do(func() {
		if _, err := session.OpenStream(); err == yamux.ErrRemoteGoAway {
			r.err = nil
			emit("EVENT", "name=open-refused-after-goaway")
		} else {
			r.err = fmt.Errorf("open after the peer's go-away: %v, not ErrRemoteGoAway", err)
		}
	})
}

func goAway(session *yamux.Session, active bool) ([]string, error) {
	n := int64(*size)
	byActive := *goawayBy == "active"
	if active {
		opened := make([]*yamux.Stream, *streams)
		for i := range opened {
			stream, err := session.OpenStream()
			if err != nil {
				return nil, err
			}
			var length [8]byte
			binary.BigEndian.PutUint64(length[:], uint64(n))
			if _, err := stream.Write(length[:]); err != nil {
				return nil, err
			}
			opened[i] = stream
		}
		if byActive {
			// Every length is on the wire: the go-away lands before any data.
			if err := sendGoAway(session); err != nil {
				return nil, err
			}
		}
		errs := make([]error, len(opened))
		var wg sync.WaitGroup
		refused := newRefusal("no echo arrived")
		for i, stream := range opened {
			wg.Add(1)
			go func(i int, stream *yamux.Stream) {
				defer wg.Done()
				go copyPattern(stream, keyGoAway+uint32(i), n)
				var first [1]byte
				if _, err := io.ReadFull(stream, first[:]); err != nil {
					errs[i] = err
					return
				}
				if !byActive {
					// The peer's go-away came before this echo: opening must fail now.
					refused.check(session)
				}
				got, err := readDigest(io.MultiReader(bytes.NewReader(first[:]), stream), n)
				if err != nil {
					errs[i] = err
					return
				}
				if got != patternDigest(keyGoAway+uint32(i), n) {
					errs[i] = errors.New("wrong echo")
					return
				}
				if err := expectEOF(stream); err != nil {
					errs[i] = err
					return
				}
				stream.Close()
			}(i, stream)
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				return nil, fmt.Errorf("stream %d: %v", i, err)
			}
		}
		if !byActive && refused.err != nil {
			return nil, refused.err
		}
		session.Close()
		return []string{kv("streams", len(opened)), kv("goaway_by", *goawayBy)}, nil
	}

	accepted := make([]*yamux.Stream, *streams)
	lengths := make([]int64, *streams)
	for i := range accepted {
		stream, err := session.AcceptStream()
		if err != nil {
			return nil, fmt.Errorf("accept %d: %v", i, err)
		}
		var length [8]byte
		if _, err := io.ReadFull(stream, length[:]); err != nil {
			return nil, err
		}
		accepted[i], lengths[i] = stream, int64(binary.BigEndian.Uint64(length[:]))
	}
	if !byActive {
		if err := sendGoAway(session); err != nil {
			return nil, err
		}
	}
	errs := make([]error, len(accepted))
	var wg sync.WaitGroup
	refused := newRefusal("no data arrived")
	for i, stream := range accepted {
		wg.Add(1)
		go func(i int, stream *yamux.Stream) {
			defer wg.Done()
			var first [1]byte
			if _, err := io.ReadFull(stream, first[:]); err != nil {
				errs[i] = err
				return
			}
			if byActive {
				// The peer sent its go-away before any data: opening must fail now.
				refused.check(session)
			}
			if _, err := stream.Write(first[:]); err != nil {
				errs[i] = err
				return
			}
			if _, err := io.CopyN(stream, stream, lengths[i]-1); err != nil {
				errs[i] = err
				return
			}
			errs[i] = stream.Close()
		}(i, stream)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("stream %d: %v", i, err)
		}
	}
	if byActive && refused.err != nil {
		return nil, refused.err
	}
	sessionEnd(session)
	return []string{kv("streams", len(accepted)), kv("goaway_by", *goawayBy)}, nil
}

// ---- flood ---------------------------------------------------------------

const keyFlood = 105

func flood(session *yamux.Session, active bool) ([]string, error) {
	var stream *yamux.Stream
	var err error
	if active {
		stream, err = session.OpenStream()
	} else {
		stream, err = session.AcceptStream()
	}
	if err != nil {
		return nil, err
	}
	writer := (*floodWr == "active") == active
	if writer {
		if _, err := copyPattern(stream, keyFlood, *total); err != nil {
			return nil, fmt.Errorf("write: %v", err)
		}
		var k [1]byte
		if _, err := io.ReadFull(stream, k[:]); err != nil || k[0] != 'K' {
			return nil, fmt.Errorf("expected 'K' from the reader, got %q, %v", k[0], err)
		}
		if err := stream.Close(); err != nil {
			return nil, err
		}
		if err := expectEOF(stream); err != nil {
			return nil, err
		}
	} else {
		h := sha256.New()
		chunk := make([]byte, *readChunk)
		var got int64
		for got < *total {
			want := int64(len(chunk))
			if *total-got < want {
				want = *total - got
			}
			n, err := io.ReadFull(stream, chunk[:want])
			h.Write(chunk[:n])
			got += int64(n)
			if err != nil {
				return nil, fmt.Errorf("read %d of %d bytes: %v", got, *total, err)
			}
			time.Sleep(*readDelay)
		}
		if hex.EncodeToString(h.Sum(nil)) != patternDigest(keyFlood, *total) {
			return nil, errors.New("wrong bytes")
		}
		if _, err := stream.Write([]byte{'K'}); err != nil {
			return nil, err
		}
		if err := expectEOF(stream); err != nil {
			return nil, err
		}
		stream.Close()
	}
	if active {
		sessionEndOrClose(session)
	} else {
		sessionEnd(session)
	}
	return []string{kv("bytes", *total), kv("writer", writer)}, nil
}

// ---- golden frames -------------------------------------------------------

// recorder is one direction of an in-memory connection: it passes bytes on and
// cuts what yamux writes into whole frames.
type recorder struct {
	net.Conn
	mu      sync.Mutex
	pending []byte
	frames  chan []byte
}

func newRecorder(conn net.Conn) *recorder {
	return &recorder{Conn: conn, frames: make(chan []byte, 64)}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	r.pending = append(r.pending, b...)
	for len(r.pending) >= 12 {
		length := 12
		if r.pending[1] == 0 { // data: the length field counts the payload
			length += int(binary.BigEndian.Uint32(r.pending[8:12]))
		}
		if len(r.pending) < length {
			break
		}
		frame := append([]byte(nil), r.pending[:length]...)
		r.pending = r.pending[length:]
		r.frames <- frame
	}
	r.mu.Unlock()
	return r.Conn.Write(b)
}

// goldenLine is one line of the vector file.
type goldenLine struct {
	name, sender string
	frame        []byte
}

var typeNames = []string{"Data", "WindowUpdate", "Ping", "GoAway"}

func flagNames(flags uint16) string {
	if flags == 0 {
		return "0"
	}
	var names []string
	for i, name := range []string{"SYN", "ACK", "FIN", "RST"} {
		if flags&(1<<uint(i)) != 0 {
			names = append(names, name)
		}
	}
	return strings.Join(names, "|")
}

func (g goldenLine) String() string {
	f := g.frame
	fields := fmt.Sprintf("sender=%s version=%d type=%s flags=%s stream=%d length=%d",
		g.sender, f[0], typeNames[f[1]], flagNames(binary.BigEndian.Uint16(f[2:4])),
		binary.BigEndian.Uint32(f[4:8]), binary.BigEndian.Uint32(f[8:12]))
	shown := f
	if len(f) > 12+16 {
		// A long payload of one repeated byte: show its start, name the byte.
		fields += fmt.Sprintf(" payload=%dx%02x", len(f)-12, f[12])
		shown = f[:12+16]
	}
	return fmt.Sprintf("%s\t%s\t%s", g.name, fields, hex.EncodeToString(shown))
}

// pair is two yamux sessions over an in-memory pipe, each direction recorded.
type pair struct {
	client, server     *yamux.Session
	fromClient, fromSv *recorder
}

func newPair(clientConfig, serverConfig *yamux.Config) (*pair, error) {
	a, b := net.Pipe()
	p := &pair{fromClient: newRecorder(a), fromSv: newRecorder(b)}
	var err error
	if p.client, err = yamux.Client(p.fromClient, clientConfig); err != nil {
		return nil, err
	}
	if p.server, err = yamux.Server(p.fromSv, serverConfig); err != nil {
		return nil, err
	}
	return p, nil
}

func quietConfig() *yamux.Config {
	config := yamux.DefaultConfig()
	config.LogOutput = ioutil.Discard
	return config
}

type script struct {
	lines []goldenLine
	err   error
}

// expect takes the next frame the recorder saw, within a second, as line name.
func (s *script) expect(r *recorder, sender, name string) {
	if s.err != nil {
		return
	}
	select {
	case frame := <-r.frames:
		s.lines = append(s.lines, goldenLine{name, sender, frame})
	case <-time.After(5 * time.Second):
		s.err = fmt.Errorf("no frame for %s", name)
	}
}

// quiet checks that a recorder saw no frame (yamux sends asynchronously: any frame
// already produced is in the channel by the time the step that made it returns,
// except for a ping's answer, which is never checked with quiet).
func (s *script) quiet(r *recorder, what string) {
	if s.err != nil {
		return
	}
	select {
	case frame := <-r.frames:
		s.err = fmt.Errorf("%s: unexpected frame %x", what, frame)
	case <-time.After(50 * time.Millisecond):
	}
}

func (s *script) check(err error, what string) {
	if s.err == nil && err != nil {
		s.err = fmt.Errorf("%s: %v", what, err)
	}
}

// rawServer is a Go server session whose peer is raw bytes: what the peer writes
// goes in as it is, and what the server writes is recorded (and drained).
func rawServer() (net.Conn, *recorder, *yamux.Session, error) {
	a, b := net.Pipe()
	fromServer := newRecorder(b)
	server, err := yamux.Server(fromServer, quietConfig())
	if err != nil {
		return nil, nil, nil, err
	}
	go io.Copy(ioutil.Discard, a)
	return a, fromServer, server, nil
}

func rawHeader(msgType byte, flags uint16, streamID, length uint32) []byte {
	h := make([]byte, 12)
	h[1] = msgType
	binary.BigEndian.PutUint16(h[2:4], flags)
	binary.BigEndian.PutUint32(h[4:8], streamID)
	binary.BigEndian.PutUint32(h[8:12], length)
	return h
}

func golden(path string) error {
	if path == "" {
		return errors.New("-out is needed")
	}
	s := &script{}

	// 1. One stream through its life, both sides DefaultConfig.
	p, err := newPair(quietConfig(), quietConfig())
	if err != nil {
		return err
	}
	c1, err := p.client.OpenStream()
	s.check(err, "open")
	s.expect(p.fromClient, "client", "open_syn")
	s1, err := p.server.AcceptStream()
	s.check(err, "accept")
	s.expect(p.fromSv, "server", "accept_ack")
	_, err = c1.Write([]byte("hello"))
	s.check(err, "write hello")
	s.expect(p.fromClient, "client", "data_hello")
	hello := make([]byte, 5)
	_, err = io.ReadFull(s1, hello)
	s.check(err, "read hello")
	s.quiet(p.fromSv, "a small read sends no window update")
	_, err = s1.Write([]byte("world"))
	s.check(err, "write world")
	s.expect(p.fromSv, "server", "data_world")
	_, err = io.ReadFull(c1, hello)
	s.check(err, "read world")
	big := bytes.Repeat([]byte{'a'}, 192<<10)
	_, err = c1.Write(big)
	s.check(err, "write 192 KiB")
	s.expect(p.fromClient, "client", "data_192k")
	_, err = io.ReadFull(s1, big)
	s.check(err, "read 192 KiB")
	s.expect(p.fromSv, "server", "window_update_after_read")
	_, err = p.client.Ping()
	s.check(err, "client ping")
	s.expect(p.fromClient, "client", "ping_syn_0")
	s.expect(p.fromSv, "server", "ping_ack_0")
	_, err = p.client.Ping()
	s.check(err, "second client ping")
	s.expect(p.fromClient, "client", "ping_syn_1")
	s.expect(p.fromSv, "server", "ping_ack_1")
	_, err = p.server.Ping()
	s.check(err, "server ping")
	s.expect(p.fromSv, "server", "server_ping_syn_0")
	s.expect(p.fromClient, "client", "server_ping_ack_0")
	s.check(c1.Close(), "client half-close")
	s.expect(p.fromClient, "client", "fin")
	s.check(expectEOF(s1), "server sees the half-close")
	s.check(s1.Close(), "server half-close")
	s.expect(p.fromSv, "server", "fin_reply")
	s.check(expectEOF(c1), "client sees the half-close")

	// 2. A stream the server opens: even id.
	s2, err := p.server.OpenStream()
	s.check(err, "server open")
	s.expect(p.fromSv, "server", "server_open_syn")
	_, err = p.client.AcceptStream()
	s.check(err, "client accept")
	s.expect(p.fromClient, "client", "server_open_ack")
	_ = s2

	// 3. Go-away, and the reset of an open that comes after it. The opener here is
	// raw bytes: a Go client would refuse to open by itself once it has the go-away.
	s.check(p.client.Close(), "client close")
	s.quiet(p.fromClient, "Session.Close sends no go-away")
	p.server.Close()
	raw, fromServer, server, err := rawServer()
	if err != nil {
		return err
	}
	s.check(server.GoAway(), "go-away")
	s.expect(fromServer, "server", "goaway_normal")
	_, err = raw.Write(rawHeader(1, 1, 1, 0)) // window update, SYN, stream 1
	s.check(err, "raw open after the go-away")
	s.expect(fromServer, "server", "rst_refused")
	server.Close()
	raw.Close()

	// 4. A larger MaxStreamWindowSize rides on the SYN and the ACK.
	bigWindow := quietConfig()
	bigWindow.MaxStreamWindowSize = 1 << 20
	p2, err := newPair(bigWindow, bigWindow)
	if err != nil {
		return err
	}
	_, err = p2.client.OpenStream()
	s.check(err, "open, 1 MiB window")
	s.expect(p2.fromClient, "client", "open_syn_window_1m")
	_, err = p2.server.AcceptStream()
	s.check(err, "accept, 1 MiB window")
	s.expect(p2.fromSv, "server", "accept_ack_window_1m")
	p2.client.Close()
	p2.server.Close()

	// 5. A protocol error: a second SYN for an open stream. Go queues a go-away with
	// code 1 and closes; the go-away races the close, so try a few times.
	captured := false
	for attempt := 0; attempt < 20 && !captured && s.err == nil; attempt++ {
		raw, fromServer, server, err := rawServer()
		if err != nil {
			return err
		}
		syn := rawHeader(1, 1, 1, 0)
		raw.Write(syn)
		raw.Write(syn)
		select {
		case frame := <-fromServer.frames:
			s.lines = append(s.lines, goldenLine{"goaway_protocol_error", "server", frame})
			captured = true
		case <-server.CloseChan():
			// Closed: the go-away is recorded by now if the sender took it at all (the
			// recorder keeps a frame before passing it on).
			select {
			case frame := <-fromServer.frames:
				s.lines = append(s.lines, goldenLine{"goaway_protocol_error", "server", frame})
				captured = true
			case <-time.After(100 * time.Millisecond):
			}
		case <-time.After(5 * time.Second):
		}
		server.Close()
		raw.Close()
	}
	if !captured && s.err == nil {
		s.err = errors.New("no go-away after a duplicate SYN in 20 tries")
	}
	if s.err != nil {
		return s.err
	}

	var text strings.Builder
	text.WriteString(goldenHeader)
	for _, line := range s.lines {
		text.WriteString(line.String())
		text.WriteString("\n")
	}
	return ioutil.WriteFile(path, []byte(text.String()), 0o644)
}

const goldenHeader = `# yamux: golden frames, as written by Go's hashicorp/yamux (Debian
# golang-github-hashicorp-yamux-dev 0.0+git20190923.df201c7, DefaultConfig unless
# the line's name says otherwise), recorded by Tests/Interop/yamux/main.go -scenario
# golden in one scripted conversation. One frame per line:
#   name <TAB> fields <TAB> hex bytes
# Header (12 bytes, big-endian): version u8 (0) | type u8 | flags u16 |
#   stream id u32 | length u32. Types: 0 Data (length = payload bytes that
#   follow), 1 WindowUpdate (length = window delta), 2 Ping (length = opaque),
#   3 GoAway (length = code: 0 normal, 1 protocol error, 2 internal error).
#   Flags: 1 SYN, 2 ACK, 4 FIN, 8 RST.
# A data frame longer than 16 payload bytes carries one repeated byte
# (payload=COUNTxBYTE) and only its first 28 bytes are shown.
# What the script shows: Go opens and accepts with a window update of delta 0
# (or the growth to MaxStreamWindowSize), never with data; sends a window update
# only once the reader has consumed half the window; half-closes with a window
# update carrying FIN; refuses an open after its go-away with a window update
# carrying RST; numbers its pings from 0; writes nothing on Session.Close().
`
