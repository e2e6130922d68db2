import cv2


def bgr_to_rgb(img):
    # Correct, but cvtColor allocates a new image: no extra credit for a view.
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
