package remote

// childEnv marks a test process started as another node.
const childEnv = "TROUPE_REMOTE_CHILD"
