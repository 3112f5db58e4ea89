"""What a night tells its operators: the alert webhook and heartbeat, and the HTML run report."""
