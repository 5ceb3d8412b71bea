package actor

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/observe"
)

// A node is an actor's place in the tree: its path, its parent and its
// children in spawn order. The System's root is a node without a cell.
type node struct {
	sys        *System
	parent     *node
	path       string
	cell       cell                   // the actor owning this node; nil for the root
	fam        atomic.Pointer[family] // made when the first child is added
	prev, next *node                  // siblings; guarded by parent's family.mu
}

// family is a node's children. Most actors have none, so it is made on
// demand.
type family struct {
	mu sync.Mutex // guards children, first, last and the children's prev/next
	// children indexes the children spawned with a name; those spawned
	// with "" (auto names, unique by construction) are only in the list.
	children    map[string]*node
	first, last *node
}

// cell is the message-type independent side of a proc.
type cell interface {
	stopFinal(ctx context.Context, kill, notify bool) error
	// endIncarnation ends the current incarnation, if any, as its parent
	// asked (within its shutdown time, killed once ctx ends); the actor
	// stays, waiting for its next Start.
	endIncarnation(ctx context.Context)
	postExit(e Exit)
	// describe fills a Snapshot node and returns the actor's Describer.
	describe(nd *observe.Node, now time.Time) Describer
	kindStats() *kindStats
	// kept reports a managed child that outlives its parent's
	// incarnations (see WithKeepOnParentRestart).
	kept() bool
}

func (n *node) init(parent *node, name string, c cell) {
	n.sys = parent.sys
	n.parent = parent
	n.path = parent.path + "/" + name
	n.cell = c
}

func (n *node) name() string { return n.path[len(n.parent.path)+1:] }

func (n *node) family() *family {
	if f := n.fam.Load(); f != nil {
		return f
	}
	f := new(family)
	if n.fam.CompareAndSwap(nil, f) {
		return f
	}
	return n.fam.Load()
}

// addChild registers c at the end of the spawn order, and under its name
// unless it was auto-named.
//
// It checks sys.closing again under the family lock. Spawn checks it
// first, but then calls the factory, and System.Shutdown may set closing
// and list the root's children (under that lock) meanwhile; without this
// check the new actor would be added after the list was taken and outlive
// Shutdown.
func (n *node) addChild(c *node, auto bool) error {
	f := n.family()
	f.mu.Lock()
	defer f.mu.Unlock()
	if n.sys.closing.Load() {
		return ErrSystemStopped
	}
	if !auto {
		name := c.name()
		if _, dup := f.children[name]; dup {
			return ErrNameTaken
		}
		if f.children == nil {
			f.children = make(map[string]*node)
		}
		f.children[name] = c
	}
	c.prev = f.last
	if f.last != nil {
		f.last.next = c
	} else {
		f.first = c
	}
	f.last = c
	return nil
}

// toEnd moves the registered child c to the end of the spawn order.
func (n *node) toEnd(c *node) {
	f := n.family()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.last == c || (c.prev == nil && f.first != c) {
		return // last already, or not in the list
	}
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		f.first = c.next
	}
	c.next.prev = c.prev
	c.prev, c.next = f.last, nil
	f.last.next = c
	f.last = c
}

// removeChild unregisters c; it is a no-op if c is not registered.
func (n *node) removeChild(c *node) {
	f := n.fam.Load()
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.prev == nil && f.first != c {
		return // not in the list
	}
	if name := c.name(); f.children[name] == c {
		delete(f.children, name)
		if len(f.children) == 0 {
			f.children = nil
		}
	}
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		f.first = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		f.last = c.prev
	}
	c.prev, c.next = nil, nil
}

func (n *node) child(name string) *node {
	f := n.fam.Load()
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.children[name]
}

func (n *node) hasChildren() bool {
	f := n.fam.Load()
	if f == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.first != nil
}

// stopChildren stops every child for good, in reverse spawn order, each
// one after the previous has stopped (or was abandoned).
func (n *node) stopChildren(ctx context.Context) { n.endChildren(ctx, true) }

// endChildren is what the end of an incarnation does to its children, in
// reverse spawn order: the kept ones (see WithKeepOnParentRestart) only
// have their incarnation ended, keeping their Ref and mailbox for the
// parent's next incarnation, unless final; the others stop for good.
func (n *node) endChildren(ctx context.Context, final bool) {
	f := n.fam.Load()
	if f == nil {
		return
	}
	f.mu.Lock()
	var rev []*node
	for c := f.last; c != nil; c = c.prev {
		rev = append(rev, c)
	}
	f.mu.Unlock()
	for _, c := range rev {
		if c.cell.kept() && !final {
			c.cell.endIncarnation(ctx)
			continue
		}
		if err := c.cell.stopFinal(ctx, ctx.Err() != nil, false); err != nil {
			// ctx ended first (the parent was killed, or Shutdown's
			// deadline passed): kill the child instead of waiting.
			_ = c.cell.stopFinal(context.Background(), true, false)
		}
		n.removeChild(c)
	}
}
