// Package remote lets troupe actors reach actors of another process: a
// [Node] makes a System reachable on an address, [Expose] makes one of its
// actors reachable under a name, and [Ref] (or [Dial], for the typed
// [Handle] behind it) gives another node an ordinary actor.Ref[M] to it:
// Tell, TryTell, actor.Ask and its PID's Watch work as on a local actor,
// with the reply type checked at compile time.
//
// The transport is protoactor-go's remote package (gRPC streams), pinned
// to one version for every node of a cluster; membership and failure
// detection are hashicorp/memberlist's. This module is separate from
// troupe's, so a program that stays on one machine never builds them.
//
// # Messages
//
// Every message type that crosses is registered once, on every node,
// under a stable name with a [Codec]: [Register] (JSON by default,
// [Protobuf] for proto.Message types, [WithCodec] for another), and
// [RegisterAsk] for a request type that carries an actor.Reply. On the
// wire there is one protobuf message, troupe's envelope (type name, codec,
// payload, sequence and correlation numbers); protoactor never sees
// another type, so nothing a peer sends can make its stream fail or its
// process panic. Sending a type with no name fails at the sender with an
// error matching [ErrUnregistered]; a message the receiving node cannot
// decode is dead-lettered there as an [Undelivered] naming its type.
//
// # Watching and failure detection
//
// A watcher of a remote actor gets the reason it ended with, sent by the
// gateway on its node before the connection's own notice: actor.Normal,
// Shutdown, Failed (with the failure's text as a [*RemoteError]) or
// Killed. When the node is lost it gets [NoConnection] (actor's, OTP's
// noconnection), with an error matching [ErrNoConnection]: at once when
// the connection breaks (a killed process), and within about a second on
// a LAN when memberlist declares a hung or unreachable peer dead; every
// watch of that node ends. A node seeded with [WithPeers] rejoins by
// itself when it comes back. After NoConnection a Ref is down for good,
// as an Erlang monitor is; make a new one.
//
// # Supervising a child on another node
//
// [ChildSpec] is a supervisor.ChildSpec whose actor runs on another node:
// a local proxy child forwards to it, each start asks that node's spawner
// (every Node runs one) for a fresh actor from a factory registered with
// [RegisterFactory], and the remote actor's end is the proxy's: a failure,
// a kill or the node's loss (NoConnection) reaches the supervisor as a
// failure of the child, a [*ChildExitError], so OTP's restart rules apply
// unchanged; [WithFallback] lists other nodes a restart may go to.
//
// # Flow control and accounting
//
// Each Handle has a credit window ([WithWindow], default [DefaultWindow]
// messages): it may have that many messages sent and not yet acknowledged
// by the gateway, which acknowledges a message once the exposed actor's
// mailbox took it. So a bounded mailbox's backpressure reaches the remote
// sender: Tell waits (bounded by its ctx), TryTell returns actor.ErrFull.
// Messages sent and not acknowledged when the node is lost (or the remote
// actor stopped, or the Node closed) are counted in
// [Node.LostInTransit] and dead-lettered on the sender with
// [ErrLostInTransit]: they may or may not have been handled. Every message
// is accounted for on exactly one node.
//
// Remote dead letters are the System's own (System.DeadLetter): their
// Message is an [Undelivered] saying why, their Recipient "NODE/NAME",
// and their reason actor.DeadLost for a message lost in transit,
// actor.DeadUndecodable for one that could not be decoded on the
// receiver, actor.DeadStopped for one refused because the handle is down
// or the exposed actor refused it.
//
// # Services and remote pipeline stages
//
// A [Service] is a reference to a name exposed on whichever node serves
// it: when its handle goes down it dials the name again on another live
// member (or the same node, once back). [Ask] through a Service is at
// least once: a request whose handle ended before its reply is sent
// again (counted in Service.Resent), so the remote actor must be
// idempotent or its duplicates counted. [Stage] is a pipeline stage built
// on it: an item is done only when its reply came back, and a SIGKILLed
// serving node loses nothing; its items in flight are re-sent to the
// next node that serves the name.
//
// # Keyed state on a node that can die
//
// A [Feed] is a stream of items another node's pipeline consumes
// ([FeedReader.Source], a resumable source) with that pipeline's
// checkpoints, keyed states included, saved on the feeding node. The feed
// keeps the items after the last checkpoint and sends them again to a
// consumer that resumes from it, so a keyed stage on a node that is
// SIGKILLed still folds every item exactly once; what the lost consumer
// emitted after its checkpoint is emitted again, for an idempotent sink.
//
// # Nil contexts and options
//
// A nil context.Context is treated as context.Background. A nil option is
// skipped, and so is an option given a nil value (a nil logger, codec or
// function). [Start] with a nil System, and [Expose], [Dial] and [Ref]
// with a nil Node, return errors matching actor.ErrNilRef; the methods of
// a nil [*Handle] return actor.ErrNilRef or do nothing.
//
// # Tests with several nodes
//
// protoactor and gRPC have data races between two nodes of one process,
// and a node's Start races with the gRPC goroutines of a node that ran
// before it in the same process. Run one Node per process: this package's
// own multi-node tests run the other nodes as child processes of the test
// binary, on 127.0.0.1.
package remote
