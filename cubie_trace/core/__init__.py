"""The tracer and its IR: values, primitives, programs, printing, interpretation."""
