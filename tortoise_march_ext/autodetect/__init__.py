"""The pure diff from one ProjectState to another, its questioner and optimizer."""
