def to_uint8_image(x):
    return (x * 255).clamp(0, 255).byte()
