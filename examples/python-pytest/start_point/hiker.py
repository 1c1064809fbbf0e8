def global_answer():
    return 6 * 9
