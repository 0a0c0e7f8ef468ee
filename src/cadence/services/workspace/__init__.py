"""The workspace's use cases: what reps, marketers and managers see and do; the web app renders them."""
