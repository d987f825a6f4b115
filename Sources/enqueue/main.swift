print("enqueue: placeholder")
