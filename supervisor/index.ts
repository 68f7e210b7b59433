// Supervision: strategies, restart intensity and lifecycle control (issue 3 fills this layer in).

export {};
