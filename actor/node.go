package actor

import (
	"context"
	"sync"
)

// A node is an actor's place in the tree: its path, its parent and its
// children in spawn order. The System's root is a node without a cell.
type node struct {
	sys    *System
	parent *node
	path   string
	cell   cell // the actor owning this node; nil for the root

	cmu         sync.Mutex // guards children, first, last and the children's prev/next
	children    map[string]*node
	first, last *node
	prev, next  *node // siblings; guarded by parent.cmu
}

// cell is the message-type independent side of a proc.
type cell interface {
	stopFinal(ctx context.Context, kill, notify bool) error
	postExit(e Exit)
}

func (n *node) init(parent *node, name string, c cell) {
	n.sys = parent.sys
	n.parent = parent
	n.path = parent.path + "/" + name
	n.cell = c
}

func (n *node) name() string { return n.path[len(n.parent.path)+1:] }

// addChild registers c under its name, at the end of the spawn order.
//
// It checks sys.closing again under cmu. Spawn checks it first, but then
// calls the factory, and System.Shutdown may set closing and list the
// root's children (under cmu) meanwhile; without this check the new actor
// would be added after the list was taken and outlive Shutdown.
func (n *node) addChild(c *node) error {
	name := c.name()
	n.cmu.Lock()
	defer n.cmu.Unlock()
	if n.sys.closing.Load() {
		return ErrSystemStopped
	}
	if _, dup := n.children[name]; dup {
		return ErrNameTaken
	}
	if n.children == nil {
		n.children = make(map[string]*node)
	}
	n.children[name] = c
	c.prev = n.last
	if n.last != nil {
		n.last.next = c
	} else {
		n.first = c
	}
	n.last = c
	return nil
}

// removeChild unregisters c; it is a no-op if c is not registered.
func (n *node) removeChild(c *node) {
	n.cmu.Lock()
	defer n.cmu.Unlock()
	if n.children[c.name()] != c {
		return
	}
	delete(n.children, c.name())
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		n.first = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		n.last = c.prev
	}
	c.prev, c.next = nil, nil
	if len(n.children) == 0 {
		n.children = nil
	}
}

func (n *node) child(name string) *node {
	n.cmu.Lock()
	defer n.cmu.Unlock()
	return n.children[name]
}

func (n *node) hasChildren() bool {
	n.cmu.Lock()
	defer n.cmu.Unlock()
	return n.first != nil
}

// stopChildren stops every child for good, in reverse spawn order, each
// one after the previous has stopped (or was abandoned).
func (n *node) stopChildren(ctx context.Context) {
	n.cmu.Lock()
	var rev []*node
	for c := n.last; c != nil; c = c.prev {
		rev = append(rev, c)
	}
	n.cmu.Unlock()
	for _, c := range rev {
		if err := c.cell.stopFinal(ctx, ctx.Err() != nil, false); err != nil {
			// ctx ended first (the parent was killed, or Shutdown's
			// deadline passed): kill the child instead of waiting.
			_ = c.cell.stopFinal(context.Background(), true, false)
		}
		n.removeChild(c)
	}
}
