package remote

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	pactor "github.com/asynkron/protoactor-go/actor"
	premote "github.com/asynkron/protoactor-go/remote"
	"github.com/hashicorp/memberlist"

	"github.com/troupe-go/troupe/actor"
)

// DefaultWindow is the default credit window of a handle: how many
// messages it may have sent and not yet seen acknowledged. An
// acknowledgement takes milliseconds to come back from a busy peer, so a
// smaller window caps a handle's throughput (window/round trip: 256 gave
// 0.5 M msg/s on loopback, 4096 gives 1 M); the handle keeps what is on
// the wire in a ring that grows with it, so one that sends little holds
// little. Lower it with WithWindow to bound what a lost node takes with it.
const DefaultWindow = 4096

// A Node is a troupe System reachable from other processes: a protoactor
// remote (gRPC) server on one address, a memberlist member for failure
// detection, the gateways of the actors exposed on it and the handles it
// dialled to actors on other nodes. Start one per System; Close it before
// the System's Shutdown.
type Node struct {
	sys    *actor.System
	pa     *pactor.ActorSystem
	rem    *premote.Remote
	ml     *memberlist.Memberlist
	addr   string
	window int
	peers  []string

	ctx    context.Context // ends at Close: bounds what gateways wait for
	cancel context.CancelFunc
	wg     sync.WaitGroup // the node's goroutines

	mu       sync.Mutex
	closed   bool
	gateways map[string]*gateway
	handles  map[string]map[*handle]struct{} // by node address
	dead     map[string]bool                 // node address -> declared dead by memberlist

	members func(addr string, alive bool)

	// sendMu orders this module's calls into protoactor before its
	// Shutdown: protoactor's endpoint manager races with sends made
	// while it stops (REMOTE.md §8.9).
	sendMu    sync.RWMutex
	quiesced  bool
	pubMu     sync.Mutex                // see Start
	stopping  map[string]*pactor.Future // handle actors being stopped, by id
	lost      atomic.Uint64
	handleSeq atomic.Uint64
	nonce     string // this run of the node, in its handles' names
}

type config struct {
	peers    []string
	gossip   string
	window   int
	logger   *slog.Logger
	retries  int
	rejoin   time.Duration
	mlConfig func(*memberlist.Config)
	members  func(addr string, alive bool) // tests
}

// An Option configures a Node.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithPeers seeds the node's membership with the gossip addresses
// (Node.GossipAddr) of other nodes. The node joins them at Start and keeps
// trying, every second, those it does not see alive, so a peer that was
// declared dead and comes back rejoins by itself. Without peers the node
// runs no failure detection of its own: only a broken connection ends a
// watch. Empty addresses are skipped.
func WithPeers(addrs ...string) Option {
	return optionFunc(func(c *config) {
		for _, a := range addrs {
			if a != "" {
				c.peers = append(c.peers, a)
			}
		}
	})
}

// WithGossipAddr sets the address memberlist binds (TCP and UDP). The
// default is the node's host with port 0 (the kernel picks one).
func WithGossipAddr(addr string) Option {
	return optionFunc(func(c *config) { c.gossip = addr })
}

// WithWindow sets the credit window of the handles the node dials (default
// DefaultWindow). Values below 1 are ignored.
func WithWindow(n int) Option {
	return optionFunc(func(c *config) {
		if n >= 1 {
			c.window = n
		}
	})
}

// WithLogger sets the logger protoactor and memberlist write to. The
// default discards their output. A nil l is skipped.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithMemberlist lets f adjust the memberlist configuration after the
// node's own tuning (probe every 200 ms, 100 ms probe timeout, 400 ms
// suspicion on a small cluster: a killed or hung peer is declared dead in
// about a second on a LAN). A nil f is skipped.
func WithMemberlist(f func(*memberlist.Config)) Option {
	return optionFunc(func(c *config) {
		if f != nil {
			c.mlConfig = f
		}
	})
}

// Start makes sys reachable at addr ("host:port"; port 0 picks one, see
// Addr) and, with WithPeers, joins the other nodes' membership. It returns
// an error for an address it cannot listen on. Nil options are skipped.
// The node runs a spawner, an actor of sys exposed under its own name,
// that serves the remote children of other nodes' supervisors
// (ChildSpec, RegisterFactory).
func Start(sys *actor.System, addr string, opts ...Option) (*Node, error) {
	if sys == nil {
		return nil, fmt.Errorf("remote: nil system: %w", actor.ErrNilRef)
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("remote: address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("remote: address %q: bad port", addr)
	}
	// Find a bad address before protoactor does (it panics), and without
	// its Start, which resets gRPC's global logger: that races with the
	// gRPC goroutines of a Node that ran before in this process.
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("remote: listen on %s: %w", addr, err)
	}
	_ = l.Close()
	cfg := config{
		window:  DefaultWindow,
		logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		retries: 1,
		rejoin:  time.Second,
		gossip:  net.JoinHostPort(host, "0"),
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	n := &Node{
		sys:      sys,
		window:   cfg.window,
		peers:    cfg.peers,
		gateways: map[string]*gateway{},
		handles:  map[string]map[*handle]struct{}{},
		dead:     map[string]bool{},
		members:  cfg.members,
		stopping: map[string]*pactor.Future{},
		nonce:    strconv.FormatInt(time.Now().UnixNano(), 36),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	logger := cfg.logger
	n.pa = pactor.NewActorSystem(
		pactor.WithLoggerFactory(func(*pactor.ActorSystem) *slog.Logger { return logger }),
		// Each throttle period of protoactor's dead-letter log holds a
		// goroutine; keep it short so that none outlives Close for long.
		pactor.WithDeadLetterThrottleInterval(10*time.Millisecond),
	)
	rc := premote.Configure(host, port)
	// Each connect retry sleeps 2 s inside protoactor's endpoint writer,
	// holding every message to that node; fail fast instead.
	rc.MaxRetryCount = cfg.retries
	n.rem = premote.NewRemote(n.pa, rc)
	if err := startRemote(n.rem); err != nil {
		n.pa.Shutdown()
		n.cancel()
		return nil, fmt.Errorf("remote: listen on %s: %w", addr, err)
	}
	n.addr = n.pa.Address()
	// protoactor's endpoint manager handles EndpointTerminatedEvent on the
	// publishing goroutine (a connection's receive goroutine, often) with
	// no synchronisation with its Shutdown. This handler runs right after
	// it on the same goroutine; Close takes pubMu before the Shutdown, so
	// every such event handled so far happens before it.
	n.pa.EventStream.Subscribe(func(evt any) {
		if _, ok := evt.(*premote.EndpointTerminatedEvent); ok {
			n.pubMu.Lock()
			n.pubMu.Unlock() //nolint:staticcheck // an edge for the race detector, see above
		}
	})

	ml, err := n.startMembership(cfg, host)
	if err != nil {
		n.rem.Shutdown(false)
		n.pa.Shutdown()
		n.cancel()
		return nil, err
	}
	n.ml = ml
	if err := serveSpawns(n); err != nil {
		_ = n.Close(context.Background())
		return nil, err
	}
	if len(n.peers) > 0 {
		_, _ = ml.Join(n.peers) // those not up yet are retried by rejoin
		n.wg.Add(1)
		// Owner: the Node; Close cancels n.ctx and waits for it.
		go n.rejoin(cfg.rejoin)
	}
	return n, nil
}

// startRemote starts protoactor's remote, turning its panic on a failed
// listen into an error.
func startRemote(r *premote.Remote) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	r.Start()
	return nil
}

func (n *Node) startMembership(cfg config, host string) (*memberlist.Memberlist, error) {
	gh, gp, err := net.SplitHostPort(cfg.gossip)
	if err != nil {
		return nil, fmt.Errorf("remote: gossip address %q: %w", cfg.gossip, err)
	}
	gport, err := strconv.Atoi(gp)
	if err != nil {
		return nil, fmt.Errorf("remote: gossip address %q: bad port", cfg.gossip)
	}
	mc := memberlist.DefaultLANConfig()
	mc.Name = n.addr // members are named by their remote address
	mc.BindAddr = gh
	mc.BindPort = gport
	mc.AdvertisePort = 0
	mc.ProbeInterval = 200 * time.Millisecond
	mc.ProbeTimeout = 100 * time.Millisecond
	mc.SuspicionMult = 2
	mc.SuspicionMaxTimeoutMult = 2
	mc.AwarenessMaxMultiplier = 1 // a lone survivor must not slow its own probes down
	mc.GossipInterval = 50 * time.Millisecond
	mc.GossipToTheDeadTime = 2 * time.Second
	mc.PushPullInterval = time.Second // a resumed peer learns it was declared dead, and refutes, within about a second
	mc.TCPTimeout = 500 * time.Millisecond
	mc.RetransmitMult = 2
	mc.Events = (*events)(n)
	mc.Logger = log.New(slogWriter{cfg.logger}, "", 0)
	if cfg.mlConfig != nil {
		cfg.mlConfig(mc)
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("remote: membership on %s: %w", cfg.gossip, err)
	}
	return ml, nil
}

// slogWriter feeds memberlist's log.Logger lines to a slog.Logger.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug(string(p), slog.String("component", "memberlist"))
	return len(p), nil
}

// rejoin joins, every interval, the seed peers that are not alive members.
func (n *Node) rejoin(interval time.Duration) {
	defer n.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		alive := map[string]bool{}
		for _, m := range n.ml.Members() {
			if m.State == memberlist.StateAlive {
				alive[m.Address()] = true
			}
		}
		var missing []string
		for _, p := range n.peers {
			if !alive[p] && !alive[resolved(p)] {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 && n.ctx.Err() == nil {
			_, _ = n.ml.Join(missing)
		}
	}
}

// resolved turns "localhost:p" into "127.0.0.1:p" style (as memberlist
// reports member addresses); unresolvable addresses come back unchanged.
func resolved(addr string) string {
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return addr
	}
	return a.String()
}

// events is the Node seen as memberlist's EventDelegate.
type events Node

// NotifyJoin marks a node alive again.
func (e *events) NotifyJoin(m *memberlist.Node) {
	n := (*Node)(e)
	n.mu.Lock()
	delete(n.dead, m.Name)
	n.mu.Unlock()
	if n.members != nil && m.Name != n.addr {
		n.members(m.Name, true)
	}
}

// NotifyLeave ends every handle to the node that left or was declared
// dead: their watchers get NoConnection, their unacknowledged messages are
// lost in transit. The gateways forget that node's watchers. It also tells
// protoactor, which ends its own watches of
// that address and drops its connection.
func (e *events) NotifyLeave(m *memberlist.Node) {
	n := (*Node)(e)
	if m.Name == n.addr {
		return
	}
	n.mu.Lock()
	n.dead[m.Name] = true
	hs := make([]*handle, 0, len(n.handles[m.Name]))
	for h := range n.handles[m.Name] {
		hs = append(hs, h)
	}
	gws := make([]*gateway, 0, len(n.gateways))
	for _, g := range n.gateways {
		gws = append(gws, g)
	}
	n.mu.Unlock()
	for _, g := range gws {
		g.forget(m.Name)
	}
	if n.members != nil {
		n.members(m.Name, false)
	}
	for _, h := range hs {
		h.down(NoConnection, nodeLost(m.Name), true)
	}
	n.pa.EventStream.Publish(&premote.EndpointTerminatedEvent{Address: m.Name})
}

// NotifyUpdate implements memberlist.EventDelegate.
func (e *events) NotifyUpdate(*memberlist.Node) {}

// Addr returns the address other nodes reach this one at, with the port
// the kernel picked for port 0.
func (n *Node) Addr() string { return n.addr }

// GossipAddr returns the membership address, the one other nodes list in
// WithPeers.
func (n *Node) GossipAddr() string {
	ln := n.ml.LocalNode()
	return ln.Address()
}

// System returns the node's System.
func (n *Node) System() *actor.System { return n.sys }

// Members returns the addresses (Addr) of the nodes memberlist sees alive,
// this one included.
func (n *Node) Members() []string {
	var out []string
	for _, m := range n.ml.Members() {
		if m.State == memberlist.StateAlive {
			out = append(out, m.Name)
		}
	}
	return out
}

// LostInTransit returns how many messages this node's handles had sent
// and not seen acknowledged when their node was lost (or their actor
// stopped, or this Node closed): each was also dead-lettered on this
// node's System as an Undelivered with ErrLostInTransit. It is the
// cross-node bucket of troupe's conservation law: such a message may or
// may not have been handled.
func (n *Node) LostInTransit() uint64 { return n.lost.Load() }

// Close ends the node: every handle it dialled ends (watchers get
// NoConnection with ErrClosed; unacknowledged messages are lost in
// transit), every gateway tells its remote watchers NoConnection and
// stops (the exposed actors keep running), the node leaves the membership
// and protoactor's server stops. It waits for the node's goroutines until
// ctx ends (then it returns ctx.Err()). The System is not shut down.
// Close is idempotent; a nil ctx waits as long as it takes.
func (n *Node) Close(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	var hs []*handle
	for _, set := range n.handles {
		for h := range set {
			hs = append(hs, h)
		}
	}
	gws := make([]*gateway, 0, len(n.gateways))
	for _, g := range n.gateways {
		gws = append(gws, g)
	}
	n.mu.Unlock()
	closed := fmt.Errorf("remote: %w: %w", ErrNoConnection, ErrClosed)
	for _, h := range hs {
		h.down(NoConnection, closed, true)
	}
	for _, g := range gws {
		g.close()
	}
	n.cancel()
	done := make(chan struct{})
	// Owner: Close; it ends when the node's goroutines have.
	go func() {
		for _, g := range gws {
			<-g.done
		}
		n.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	// The handle actors stopped, then nothing of ours sends any more.
	n.mu.Lock()
	fs := make([]*pactor.Future, 0, len(n.stopping))
	for _, f := range n.stopping {
		fs = append(fs, f)
	}
	n.mu.Unlock()
	for _, f := range fs {
		_ = f.Wait()
	}
	n.sendMu.Lock()
	n.quiesced = true
	n.sendMu.Unlock()
	n.pubMu.Lock()
	n.pubMu.Unlock() //nolint:staticcheck // see Start
	_ = n.ml.Leave(200 * time.Millisecond)
	_ = n.ml.Shutdown()
	n.rem.Shutdown(true)
	n.pa.Shutdown()
	return err
}

// send sends m to pid through protoactor, unless the Node has quiesced.
func (n *Node) send(pid *pactor.PID, m any) {
	n.sendMu.RLock()
	defer n.sendMu.RUnlock()
	if !n.quiesced {
		n.pa.Root.Send(pid, m)
	}
}

// stopHandleActor stops a handle's protoactor actor; Close waits for it.
func (n *Node) stopHandleActor(pid *pactor.PID) {
	n.sendMu.RLock()
	defer n.sendMu.RUnlock()
	if n.quiesced {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	// Under n.mu: the actor's Stopped (stopped) waits for the entry.
	n.stopping[pid.Id] = n.pa.Root.StopFuture(pid)
}

// stopped forgets a handle actor that stopped.
func (n *Node) stopped(pid *pactor.PID) {
	n.mu.Lock()
	delete(n.stopping, pid.Id)
	n.mu.Unlock()
}
