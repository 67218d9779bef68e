import { createTheme } from '@mantine/core';

export const theme = createTheme({
  primaryColor: 'indigo',
  // Keyboard focus is always visible, mouse focus is not.
  focusRing: 'auto',
  defaultRadius: 'sm',
});
