this { is not loaded
